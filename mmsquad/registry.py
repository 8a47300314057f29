"""mmsquad's registry tree.

Every registry is a child of the matching mmengine root registry, scoped
``mmsquad``. Components of other OpenMMLab packages are reused by scope, e.g.
``dict(_scope_='mmdet', type='RetinaHead', ...)``.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import \
    RUNNER_CONSTRUCTORS as MMENGINE_RUNNER_CONSTRUCTORS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'mmsquad'

RUNNERS = Registry(
    'runner', parent=MMENGINE_RUNNERS, scope=SCOPE,
    locations=['mmsquad.engine'])
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMENGINE_RUNNER_CONSTRUCTORS, scope=SCOPE,
    locations=['mmsquad.engine'])
LOOPS = Registry(
    'loop', parent=MMENGINE_LOOPS, scope=SCOPE,
    locations=['mmsquad.engine'])
HOOKS = Registry(
    'hook', parent=MMENGINE_HOOKS, scope=SCOPE,
    locations=['mmsquad.engine'])
DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, scope=SCOPE,
    locations=['mmsquad.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, scope=SCOPE,
    locations=['mmsquad.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, scope=SCOPE,
    locations=['mmsquad.datasets.transforms'])
MODELS = Registry(
    'model', parent=MMENGINE_MODELS, scope=SCOPE,
    locations=['mmsquad.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope=SCOPE,
    locations=['mmsquad.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, scope=SCOPE,
    locations=['mmsquad.models'])
OPTIMIZERS = Registry(
    'optimizer', parent=MMENGINE_OPTIMIZERS, scope=SCOPE,
    locations=['mmsquad.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope=SCOPE,
    locations=['mmsquad.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS, scope=SCOPE,
    locations=['mmsquad.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS, scope=SCOPE,
    locations=['mmsquad.engine'])
METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, scope=SCOPE,
    locations=['mmsquad.evaluation'])
EVALUATOR = Registry(
    'evaluator', parent=MMENGINE_EVALUATOR, scope=SCOPE,
    locations=['mmsquad.evaluation'])
TASK_UTILS = Registry(
    'task util', parent=MMENGINE_TASK_UTILS, scope=SCOPE,
    locations=['mmsquad.models'])
VISUALIZERS = Registry(
    'visualizer', parent=MMENGINE_VISUALIZERS, scope=SCOPE,
    locations=['mmsquad.visualization'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMENGINE_VISBACKENDS, scope=SCOPE,
    locations=['mmsquad.visualization'])
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMENGINE_LOG_PROCESSORS, scope=SCOPE,
    locations=['mmsquad.engine'])
INFERENCERS = Registry(
    'inferencer', parent=MMENGINE_INFERENCERS, scope=SCOPE,
    locations=['mmsquad.apis'])
# mmengine builds a data loader's collate function from the FUNCTIONS
# registry of the default scope: this child (holding no functions of its own)
# finds mmengine's from mmsquad's scope without a warning.
FUNCTIONS = Registry(
    'function', parent=MMENGINE_FUNCTIONS, scope=SCOPE,
    locations=['mmsquad.datasets'])
# Task kinds (label map, unit vectors, boxes, ...); mmsquad's own tree.
TASKS = Registry('task', scope=SCOPE, locations=['mmsquad.tasks'])
# Readers of annotation files, by format name (``'label_png'``): a dataset's
# ``annotations={task: (template, format)}`` names them; a new format is a
# function registered here from the user's module (``custom_imports``).
ANNOTATION_READERS = Registry('annotation reader', scope=SCOPE,
                              locations=['mmsquad.datasets'])
# Gradient aggregators: the per-task gradients of the shared parameters ->
# one update (PCGrad, CAGrad, ...); torchjd's under the ``torchjd`` scope
# (``type='torchjd.UPGrad'``).
AGGREGATORS = Registry('aggregator', scope=SCOPE,
                       locations=['mmsquad.engine.aggregators'])
TORCHJD_AGGREGATORS = Registry('torchjd aggregator', parent=AGGREGATORS,
                               scope='torchjd',
                               locations=['mmsquad.engine.aggregators'])
