"""Whether a layer runs eagerly, where kernel choices made in Python pay."""
import torch


def runs_eagerly() -> bool:
    """False while the model is traced, scripted, exported or compiled:
    those record operators for another runtime, to which the eager kernel
    choices of a layer (oneDNN's fused convolutions, views that select a
    faster kernel) mean nothing or cannot be expressed."""
    return not (torch.jit.is_tracing() or torch.jit.is_scripting()
                or torch.onnx.is_in_onnx_export()
                or torch.compiler.is_compiling())
