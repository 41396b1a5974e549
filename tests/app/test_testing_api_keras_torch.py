"""dlproof.testing with Keras 3 on the torch backend: a Keras layer (also a torch.nn.Module there) is adapted by
keras_layer, not torch_module; a Sequential goes to keras3.from_model. Slow: importing Keras takes seconds."""
import pytest

from keras_or_skip import keras3

keras = keras3()

from dlproof.testing import assert_conforms, keras_layer  # noqa: E402

pytestmark = pytest.mark.slow


def test_a_keras_layer_is_checked_as_keras_not_as_a_torch_module(tmp_path):
    layer = keras.layers.LSTM(4, return_sequences=True, return_state=True)
    report = assert_conforms(layer, properties=["lstm.forward"], report_dir=tmp_path)
    (row,) = report["results"]
    assert row["verdict"] == "pass" and row["target_name"].startswith("keras ")


def test_a_keras_sequential_gives_the_stack_capabilities():
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.GRU(4, return_sequences=True),
                              keras.layers.GRU(4, return_sequences=True)])
    assert set(keras_layer(model).capabilities) == {"gru_stack", "gru_stack_vjp"}


def test_a_keras_layer_the_built_in_target_covers_is_pointed_there():
    from dlproof.testing import select_properties

    with pytest.raises(ValueError, match=r"is checked by the built-in target: assert_conforms\('keras', "
                                         r"properties=\['ln\.\*'\]\)") as info:
        keras_layer(keras.layers.LayerNormalization())
    assert "is not a SimpleRNN/LSTM/GRU layer" in str(info.value)
    assert select_properties(["ln.*"])
    with pytest.raises(ValueError) as info:  # a class no built-in covers: the plain refusal
        keras_layer(keras.layers.Dense(3))
    assert "built-in target" not in str(info.value)
