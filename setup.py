"""Install mmsquad; ``configs/`` and ``tools/`` ship under ``mmsquad/.mim``."""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))
MIM_FILES = ('configs', 'tools')


def read_version() -> str:
    namespace: dict = {}
    with open(osp.join(HERE, 'mmsquad', 'version.py')) as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements(name: str) -> list:
    with open(osp.join(HERE, 'requirements', f'{name}.txt')) as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith('#')]


def add_mim_extension() -> None:
    """Expose ``configs/`` and ``tools/`` as ``mmsquad/.mim/<name>``.

    Editable installs get symbolic links, wheels and sdists get copies, as in
    mmdet and mmyolo.
    """
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif {'sdist', 'bdist_wheel', 'install'} & set(sys.argv):
        mode = 'copy'
    else:
        return
    mim_path = osp.join(HERE, 'mmsquad', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(HERE, name)
        dst = osp.join(mim_path, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_path), dst)
        else:
            shutil.copytree(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmsquad',
        version=read_version(),
        description='Multi-task learning with expert squads (SquadNet) '
        'for OpenMMLab 2.0',
        long_description=open(osp.join(HERE, 'README.md')).read(),
        long_description_content_type='text/markdown',
        license='Apache License 2.0',
        python_requires='>=3.8',
        packages=find_packages(exclude=('configs', 'tools', 'tests')),
        include_package_data=True,
        package_data={'mmsquad': ['.mim/configs/**/*', '.mim/tools/**/*']},
        install_requires=read_requirements('runtime'),
        extras_require={
            'tests': read_requirements('tests'),
            'deploy': read_requirements('deploy'),
            'mmpretrain': read_requirements('optional'),
        },
        zip_safe=False,
    )
