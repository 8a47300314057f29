"""Export of a dense multi-task model to ONNX, and its parity check."""
from typing import Dict, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor, nn


class ExportableMultiTaskModel(nn.Module):
    """Image in, one output per task out: the graph that gets exported.

    The input is what the data pipeline loads (``cv2.imread`` order, BGR,
    values 0-255, float32, shape (N, 3, H, W)); the graph applies the
    model's data preprocessor (channel conversion, normalisation) itself.
    The outputs are what every head's
    :meth:`~mmsquad.models.BaseTaskHead.export` returns: for dense tasks
    one map at the input size, as the task kind activates it (class
    scores, probabilities, unit vectors, values); for detection the mmdet
    head's raw per-level outputs.

    Args:
        model: A :class:`~mmsquad.models.MultiTaskModel` (folded or not).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.tasks = list(model.tasks)
        preprocessor = model.data_preprocessor
        self.swap_channels = bool(
            getattr(preprocessor, '_channel_conversion', False))
        self.normalize = bool(getattr(preprocessor, '_enable_normalize',
                                      False))

    def outputs(self, image: Tensor) -> Dict[str, Tensor]:
        """``{output name: tensor}`` of every head, in task order."""
        preprocessor = self.model.data_preprocessor
        if self.swap_channels:
            image = image[:, [2, 1, 0]]
        if self.normalize:
            image = (image - preprocessor.mean) / preprocessor.std
        feats = self.model.extract_feats(image)
        size = image.shape[-2:]
        outputs: Dict[str, Tensor] = {}
        for task in self.tasks:
            outputs.update(self.model.heads[task].export(feats[task], size))
        return outputs

    def forward(self, image: Tensor) -> Tuple[Tensor, ...]:
        """The tensors of :meth:`outputs`, in order."""
        return tuple(self.outputs(image).values())


def export_onnx(model: nn.Module, out_file: str, shape: Sequence[int],
                dynamic: bool = False) -> ExportableMultiTaskModel:
    """Export ``model`` to ``out_file`` with torch's ONNX exporter.

    The graph has one input, ``image``, and the outputs of
    :meth:`ExportableMultiTaskModel.outputs`, named as it names them (a
    dense task's output is named after the task).

    Args:
        model: A multi-task model in eval mode (fold it first for speed).
        out_file: Path of the ``.onnx`` file to write.
        shape: ``(H, W)`` of the example input.
        dynamic: Make batch size, height and width dynamic.

    Returns:
        The exported wrapper, to compare the ONNX outputs with.

    Raises:
        ValueError: When the model cannot take an input of ``shape``
            (checked by running it once before exporting).
        NotImplementedError: When a head cannot be exported, naming it.
    """
    height, width = shape
    wrapper = ExportableMultiTaskModel(model).eval()
    # torch.export specialises sizes 0 and 1: a dynamic batch needs two.
    example = torch.rand(2 if dynamic else 1, 3, height, width) * 255
    dynamic_shapes = None
    if dynamic:
        axis = torch.export.Dim.DYNAMIC
        dynamic_shapes = {'image': {0: axis, 2: axis, 3: axis}}
    with torch.no_grad():
        names = list(wrapper.outputs(example))
        torch.onnx.export(wrapper, (example, ), out_file,
                          input_names=['image'], output_names=names,
                          dynamo=True, dynamic_shapes=dynamic_shapes,
                          external_data=False)
    return wrapper


def onnx_relative_errors(wrapper: ExportableMultiTaskModel, onnx_file: str,
                         image: Tensor) -> Dict[str, float]:
    """``{output: ||onnx - torch|| / ||torch||}`` on one input batch.

    Args:
        wrapper: The PyTorch graph to compare with.
        onnx_file: The exported model.
        image: An input batch, as :class:`ExportableMultiTaskModel` takes.
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(
        onnx_file, providers=['CPUExecutionProvider'])
    outputs = session.run(None, {'image': image.numpy()})
    with torch.no_grad():
        expected = wrapper.outputs(image)
    errors = {}
    for (name, theirs), ours in zip(expected.items(), outputs):
        theirs = theirs.numpy()
        errors[name] = float(np.linalg.norm(ours - theirs) /
                             max(np.linalg.norm(theirs), 1e-12))
    return errors
