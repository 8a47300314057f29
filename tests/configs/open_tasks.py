# Tasks mmsquad does not ship, defined in the config alone: the 21-class
# semseg preset, the 59-class PASCAL-Context labels under another name, a
# 2-class foreground map read from the saliency files, and an image-level
# label (does the image show a person?) read from text files.
_base_ = ['./tiny_demo.py']

my_tasks = [
    'semseg',  # the preset
    dict(name='context59', type='LabelMapTask', num_classes=59),
    dict(name='foreground', type='LabelMapTask', num_classes=2),
    dict(name='has_person', type='ImageLabelTask', num_classes=2)]
# Where the new tasks' annotations are: (path template, file format).
annotations = dict(
    context59=('semseg/pascal-context/{id}.png', 'label_png'),
    foreground=('sal_distill/{id}.png', 'binary_png'),
    has_person=('has_person/{id}.txt', 'class_index_txt'))

model = dict(
    tasks=my_tasks,
    heads=dict(_delete_=True,
               semseg=dict(type='ASPPTaskHead', channels=16),
               context59=dict(type='ASPPTaskHead', channels=16),
               foreground=dict(type='ASPPTaskHead', channels=16),
               has_person=dict(type='LinearClsTaskHead')),
    task_weights=dict(_delete_=True))
train_dataloader = dict(dataset=dict(tasks=my_tasks, annotations=annotations))
val_dataloader = dict(dataset=dict(tasks=my_tasks, annotations=annotations))
test_dataloader = val_dataloader
