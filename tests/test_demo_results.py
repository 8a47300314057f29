"""The demos' floors and their recorded headline numbers."""
import json

from toolkit.demo_results import below_floors, load, record


def test_below_floors_names_every_metric_short_of_its_bound():
    metrics = {'coco/bbox_mAP': 0.632, 'coco/bbox_mAP_50': 0.96,
               'normals/mean': 12.5}
    short = below_floors(metrics, {'coco/bbox_mAP': 0.75,
                                   'coco/bbox_mAP_50': 0.95,
                                   'enhance/psnr': 25.0},
                         ceilings={'normals/mean': 12.0})
    assert short == ['coco/bbox_mAP 0.6320 < 0.75', 'enhance/psnr nan < 25.0',
                     'normals/mean 12.5000 > 12.0']
    assert below_floors(metrics, {'coco/bbox_mAP': 0.6}) == []


def test_record_keeps_the_commit_and_machine_beside_other_demos(tmp_path):
    path = str(tmp_path / 'results.json')
    record('a', {'x': 1.0}, 2.04, path)
    entry = record('b', {'y': 2.0}, 3.0, path)
    stored = load(path)
    assert set(stored) == {'a', 'b'} and stored['b'] == entry
    assert entry['metrics'] == {'y': 2.0} and entry['minutes'] == 3.0
    assert entry['commit'] and entry['machine']
    assert json.load(open(path))['a']['minutes'] == 2.0
