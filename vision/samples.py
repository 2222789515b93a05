"""The sample pictures shipped with the app in `samples/`, so that a fresh clone has something to
try on every page with no dataset and no network, and the command that writes them from the real
data: `python -m vision.samples`.

- `samples/quickdraw/doodles.npz`: a few Quick, Draw! test doodles per class, 28x28 uint8 in
  Google's format (white ink on black), with their rows in the dataset (CC BY 4.0, Google;
  credited in `samples/quickdraw/CREDITS.md`).
- `samples/photos/`: a few downscaled photos from maintained Python packages, each with its title,
  author, licence and source in `photos.csv` (scikit-image's CC0 / public-domain data photos,
  scikit-learn's two CC BY 2.0 sample photos).

No flower photos are shipped: the flowers-recognition collection does not state each photo's
author and licence, so the Flowers page starts from an upload until the dataset is on the machine.
"""

from __future__ import annotations

import argparse
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"
DOODLES_PER_CLASS = 4
PHOTO_SIDE = 320  # the longer side of a shipped photo: enough for a 224x224 centre crop
PHOTOS_CSV = "photos.csv"
PHOTO_FIELDS = ("file", "title", "author", "licence", "source")

Sample = tuple[np.ndarray, str, str]  # (pixels, caption, class name), as vision.data.Sample


def shipped_path(relative: str) -> Path:
    """Where a shipped sample file lives (`relative` to `samples/`)."""
    return SAMPLES_DIR / relative


# ---------------------------------------------------------------- reading
def read_samples(relative: str) -> list[Sample] | None:
    """The samples shipped in `samples/relative`: an `.npz` of 28x28 images with class names, or a
    `.csv` listing photos beside it; None when the file is missing or unreadable."""
    path = shipped_path(relative)
    if not path.is_file():
        return None
    try:
        return _read_npz(path) if path.suffix == ".npz" else _read_photos(path)
    except (OSError, ValueError, KeyError):
        return None


def _read_npz(path: Path) -> list[Sample]:
    with np.load(path, allow_pickle=False) as shipped:
        images, labels = shipped["images"], shipped["labels"]
        classes = [str(c) for c in shipped["classes"]]
        rows = shipped["test_rows"] if "test_rows" in shipped.files else np.arange(len(images))
    return [(np.asarray(image, np.uint8), f"shipped test doodle {int(row)}", classes[int(y)])
            for image, y, row in zip(images, labels, rows)]


@dataclass(frozen=True)
class PhotoCredit:
    """Who took a shipped photo, under which licence, and where it comes from."""

    file: str
    title: str
    author: str
    licence: str
    source: str


def photo_credits(relative: str = f"photos/{PHOTOS_CSV}") -> list[PhotoCredit]:
    """The credits of the shipped photos, in the order of the CSV."""
    path = shipped_path(relative)
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return [PhotoCredit(**{k: row[k] for k in PHOTO_FIELDS}) for row in csv.DictReader(f)]


def _read_photos(path: Path) -> list[Sample]:
    from vision.images import decode_image

    out = []
    for credit in photo_credits(str(path.relative_to(SAMPLES_DIR))):
        pixels = decode_image((path.parent / credit.file).read_bytes())
        out.append((pixels, f"{credit.author}, {credit.licence}", credit.title))
    return out


# ---------------------------------------------------------------- writing (from the real data)
def write_doodles(out_dir: Path = SAMPLES_DIR / "quickdraw",
                  per_class: int = DOODLES_PER_CLASS) -> Path:
    """The first `per_class` test doodles of each class (the seeded test split), with credits."""
    from vision.data import DOODLE_CLASSES, doodle_test_indices, load_doodle_arrays

    images, labels = load_doodle_arrays()
    test_rows = doodle_test_indices()
    rows = np.concatenate([test_rows[labels[test_rows] == c][:per_class]
                           for c in range(len(DOODLE_CLASSES))])
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / "doodles.npz"
    np.savez_compressed(target, images=images[rows].astype(np.uint8), labels=labels[rows],
                        test_rows=rows.astype(np.int32), classes=np.array(DOODLE_CLASSES))
    (out_dir / "CREDITS.md").write_text(
        "# Quick, Draw! doodles\n\n"
        f"`doodles.npz` holds {len(rows)} drawings ({per_class} per class) of the project's test "
        "split of the Quick, Draw! dataset, 28x28 pixels in Google's `numpy_bitmap` format.\n\n"
        "- Author: Google, and the players of Quick, Draw! (https://quickdraw.withgoogle.com/data)\n"
        "- Licence: Creative Commons Attribution 4.0 International (CC BY 4.0),\n"
        "  https://creativecommons.org/licenses/by/4.0/\n"
        "- Source: https://github.com/googlecreativelab/quickdraw-dataset\n"
        "- Changes: none (the drawings are the rows named `test_rows` of the first rows of each\n"
        "  class's `full/numpy_bitmap/<class>.npy`).\n\n"
        "Written by `python -m vision.samples`.\n", encoding="utf-8")
    return target


def _package_photos() -> list[tuple[np.ndarray, PhotoCredit]]:
    """The photos of maintained packages whose licence each photo states (in their docstrings,
    and in scikit-learn's `datasets/images/README.txt`)."""
    import skimage.data
    from sklearn.datasets import load_sample_image

    skimage_source = "scikit-image {version}, skimage.data.{name} (https://scikit-image.org)"
    import skimage

    photos = [
        (skimage.data.chelsea(), PhotoCredit(
            "chelsea.jpg", "a tabby cat (Chelsea)", "Stefan van der Walt", "CC0 1.0",
            skimage_source.format(version=skimage.__version__, name="chelsea"))),
        (skimage.data.coffee(), PhotoCredit(
            "coffee.jpg", "a cup of coffee", "Rachel Michetti (courtesy of Pikolo Espresso Bar)",
            "CC0 1.0", skimage_source.format(version=skimage.__version__, name="coffee"))),
        (skimage.data.rocket(), PhotoCredit(
            "rocket.jpg", "a rocket launch (Falcon 9, DSCOVR)", "SpaceX", "public domain",
            skimage_source.format(version=skimage.__version__, name="rocket")
            + "; https://www.flickr.com/photos/spacexphotos/16511594820/")),
        (load_sample_image("china.jpg"), PhotoCredit(
            "china.jpg", "a temple in China", "danielbuechele (Flickr)", "CC BY 2.0",
            "scikit-learn, sklearn.datasets.load_sample_image('china.jpg'); "
            "https://www.flickr.com/photos/danielbuechele/6061409035/")),
        (load_sample_image("flower.jpg"), PhotoCredit(
            "flower.jpg", "a flower", "vultilion (Flickr)", "CC BY 2.0",
            "scikit-learn, sklearn.datasets.load_sample_image('flower.jpg'); "
            "https://www.flickr.com/photos/vultilion/6056698931/")),
    ]
    return photos


def write_photos(out_dir: Path = SAMPLES_DIR / "photos", side: int = PHOTO_SIDE) -> Path:
    """The package photos, downscaled so their longer side is `side`, as JPEGs with a CSV of
    credits."""
    from PIL import Image

    out_dir.mkdir(parents=True, exist_ok=True)
    credits = []
    for pixels, credit in _package_photos():
        image = Image.fromarray(np.asarray(pixels, np.uint8)).convert("RGB")
        image.thumbnail((side, side), Image.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=88, optimize=True)
        (out_dir / credit.file).write_bytes(buffer.getvalue())
        credits.append(credit)
    target = out_dir / PHOTOS_CSV
    with target.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=PHOTO_FIELDS)
        writer.writeheader()
        writer.writerows([credit.__dict__ for credit in credits])
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m vision.samples", description=__doc__.split("\n")[0])
    parser.add_argument("what", nargs="?", choices=["doodles", "photos", "all"], default="all")
    args = parser.parse_args(argv)
    if args.what in ("doodles", "all"):
        print(f"wrote {write_doodles()}")
    if args.what in ("photos", "all"):
        print(f"wrote {write_photos()}")


if __name__ == "__main__":
    main()
