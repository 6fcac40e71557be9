"""The Python examples of docs/compression.md's sections 1-4 (pruning, channel shrinking,
pre-defined sparsity, binarisation) run as written and print what the page says. (The
quantisation section's snippets name the reader's own model and data.)"""

from guides import python_examples


def test_compression_guide_examples(capsys):
    blocks = python_examples("docs/compression.md")[:5]
    assert len(blocks) == 5 and "BinaryLinear" in blocks[4]
    ns: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/compression.md (example {i + 1})", "exec"), ns)  # noqa: S102 (running the guide is the test)
    out = capsys.readouterr().out
    for line in (
        "['bias', 'weight_orig'] ['weight_mask']",
        "True ['weight_orig', 'bias_orig', 'weight_mask', 'bias_mask']",
        "[0.028, 0.801]",
        "['0.bias', '0.weight']",
        ("Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)) Linear(in_features=1568, out_features=512, "
        "bias=True)"),
        "1,677,674 parameters, 19,977,098 mult-adds",
        "826,042 parameters, 5,476,042 mult-adds",
        "[1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0] 0.222",
        "415808",
        "(3, 4) (2, 4)",
    ):
        assert line in out, line
    assert int((ns["conv"].mask == 0).sum()) == 64 * 32 * 7
