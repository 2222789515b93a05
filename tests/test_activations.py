"""Feature-map extraction, scaling and tiling on tiny models built in code."""

import keras
import numpy as np
import pytest

import fixture_models as fm
from vision.activations import ActivationExtractor, LayerActivation, feature_map_layer_names


@pytest.fixture(scope="module")
def gap_cnn():
    return fm.gap_cnn()


@pytest.fixture(scope="module")
def transfer():
    return fm.flat_transfer()


def direct_output(model, name, image):
    sub_model = keras.Model(model.input, model.get_layer(name).output)
    return np.asarray(sub_model(image[None], training=False)[0])


@pytest.mark.parametrize("builder, expected", [
    (fm.gap_cnn, ["conv1_relu", "pool1", "conv2"]),  # conv -> BN -> ReLU shown after the ReLU
    (fm.dense_head_cnn, ["conv1", "pool1", "conv2"]),  # built-in activation: the conv itself
    (fm.sequential_cnn, ["conv1", "pool1", "conv2"]),
    (fm.mlp, []),
])
def test_feature_map_layer_names(builder, expected):
    assert feature_map_layer_names(builder()) == expected


def test_transfer_names_are_post_activation(transfer):
    names = feature_map_layer_names(transfer)
    assert names[:3] == ["Conv1_relu", "expanded_conv_depthwise_relu", "expanded_conv_project_BN"]
    assert "block_5_expand_relu" in names and "out_relu" == names[-1]
    assert "Conv1" not in names and "bn_Conv1" not in names


@pytest.mark.parametrize("which", ["gap_cnn", "transfer"])
def test_extractor_matches_direct_sub_models(request, which):
    model = request.getfixturevalue(which)
    names = feature_map_layer_names(model)
    if which == "transfer":
        names = [names[0], "block_5_expand_relu", names[-1]]
    image = fm.random_images(1, model.input_shape[1:])[0]
    layers = ActivationExtractor(model, names)(image)
    assert [layer.name for layer in layers] == names
    for layer in layers:
        assert isinstance(layer, LayerActivation)
        assert layer.maps.dtype == np.float32
        assert layer.shape == tuple(model.get_layer(layer.name).output.shape[1:])
        np.testing.assert_allclose(layer.maps, direct_output(model, layer.name, image),
                                   rtol=1e-5, atol=1e-6)


def test_extractor_kinds_and_default_layers(gap_cnn):
    extractor = ActivationExtractor(gap_cnn)
    layers = extractor(fm.random_images(1, (24, 24, 1))[0][..., 0])  # a 2-D grey image is fine
    assert [(layer.name, layer.kind, layer.channels) for layer in layers] == [
        ("conv1_relu", "conv", 8), ("pool1", "pool", 8), ("conv2", "conv", 16)]
    extractor(np.zeros((24, 24, 1), np.float32))
    assert extractor._forward.experimental_get_tracing_count() == 1


def test_extractor_errors(gap_cnn):
    with pytest.raises(ValueError, match="no layer called 'nope'"):
        ActivationExtractor(gap_cnn, ["nope"])
    with pytest.raises(ValueError, match="no conv or pooling layer"):
        ActivationExtractor(fm.mlp())
    with pytest.raises(ValueError, match="shape"):
        ActivationExtractor(gap_cnn, ["pool1"])(np.zeros((8, 8, 1)))


