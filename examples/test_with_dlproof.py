import torch

from dlproof.testing import assert_conforms, torch_module


def test_my_lstm_matches_the_math():
    model = torch.nn.LSTM(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    assert_conforms(torch_module(model), properties=["stack.lstm.*"])
