"""``seqgen.autocast_dtype`` / ``seqgen.autocast_off``: what model code asks about torch.autocast."""

import torch

import seqgen


def test_autocast_dtype_reports_the_context_per_device_type():
    assert seqgen.autocast_dtype("cpu") is None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert seqgen.autocast_dtype(torch.device("cpu")) == torch.bfloat16
        assert seqgen.autocast_dtype("meta") is None  # a device type autocast does not know: off, not an error
        with seqgen.autocast_off("cpu"):
            assert seqgen.autocast_dtype("cpu") is None
            a = torch.randn(3, 4)
            assert (a @ a.t()).dtype == torch.float32  # products keep their dtype inside
        assert (torch.randn(3, 4) @ torch.randn(4, 2)).dtype == torch.bfloat16  # and autocast is back after
    with seqgen.autocast_off("meta"):  # a no-op where autocast is off or unknown
        assert torch.empty(2, device="meta").device.type == "meta"
