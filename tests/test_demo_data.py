"""The demo data generator runs quietly at any image size."""
import warnings

from toolkit.synthetic import make_pascal_mt_demo


def test_odd_sizes_render_without_numeric_warnings(tmp_path):
    # An odd width puts a ray exactly on the optical axis (a zero direction
    # component), where a missed sphere once gave 0 * inf.
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        make_pascal_mt_demo(str(tmp_path), num_train=2, num_val=1,
                            size=[(75, 101), (101, 101)], seed=0)
    assert len(list((tmp_path / 'JPEGImages').iterdir())) == 3
