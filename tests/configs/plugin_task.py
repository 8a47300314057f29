# A task whose kind and annotation reader come from a module outside
# mmsquad (tests/plugins/distance_task_plugin.py, on the PYTHONPATH),
# imported by the config.
_base_ = ['./tiny_demo.py']
custom_imports = dict(imports=['distance_task_plugin'],
                      allow_failed_imports=False)

my_tasks = ['semseg', dict(name='distance', type='PixelDistanceTask')]
annotations = dict(distance=('sal_distill/{id}.png', 'saliency_distance_png'))
model = dict(
    tasks=my_tasks,
    heads=dict(_delete_=True,
               semseg=dict(type='ASPPTaskHead', channels=16),
               distance=dict(type='ASPPTaskHead', channels=16)),
    task_weights=dict(_delete_=True))
train_dataloader = dict(dataset=dict(tasks=my_tasks, annotations=annotations))
val_dataloader = dict(dataset=dict(tasks=my_tasks, annotations=annotations))
test_dataloader = val_dataloader
