#!/usr/bin/env python3
"""Run ``drivesynth generate`` on a Slurm cluster through dask-jobqueue.

Needs ``pip install dask-jobqueue`` (not a drivesynth dependency) in the same environment
as drivesynth, on the login node and on the compute nodes, and an output folder on a file
system that every node mounts (workers write the shards, this script writes the manifest).

The script starts a Dask scheduler here (in this process), submits ``--jobs`` Slurm jobs of
``--cores`` worker processes each (one thread per process, the layout ``generate`` wants),
then runs ``drivesynth generate --scheduler ADDR`` with the arguments after ``--``.
The shards are byte-identical to a local run with the same generate arguments, so a
killed run is finished with ``--resume`` on any cluster. Example::

    python scripts/dask_slurm.py --partition cpu --account proj42 --jobs 8 --cores 32 \\
        --memory 64GB --walltime 04:00:00 --venv /shared/drivesynth/.venv -- \\
        --out /shared/data/train --scenarios 20000 --frames 20 --split train --seed 1

``--print-job-script`` shows the ``sbatch`` script and submits nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--partition", required=True, help="Slurm partition (sbatch -p)")
    p.add_argument("--account", default=None, help="Slurm account (sbatch -A)")
    p.add_argument("--jobs", type=int, default=4, help="Slurm jobs to submit (default 4)")
    p.add_argument("--cores", type=int, default=16,
                   help="cores per job = Dask worker processes per job (default 16)")
    p.add_argument("--memory", default="32GB", help="memory per job (default 32GB)")
    p.add_argument("--walltime", default="02:00:00", help="walltime per job (default 2 h)")
    p.add_argument("--venv", default=sys.prefix,
                   help="environment to activate on the nodes (default: this one)")
    p.add_argument("--interface", default=None,
                   help="network interface the scheduler listens on (e.g. ib0)")
    p.add_argument("--log-directory", default="dask-slurm-logs", help="worker job logs")
    p.add_argument("--print-job-script", action="store_true",
                   help="print the sbatch script and exit")
    args, generate_args = p.parse_known_args(argv)
    generate_args = [a for a in generate_args if a != "--"]
    if args.jobs < 1 or args.cores < 1:
        p.error(f"--jobs and --cores must be >= 1, got {args.jobs} and {args.cores}")
    if not args.print_job_script and "--out" not in generate_args:
        p.error("pass the generate arguments after --, at least --out DIR --scenarios N ...")
    return args, generate_args


def make_cluster(args: argparse.Namespace) -> object:
    """The SLURMCluster: ``--cores`` single-threaded worker processes per job."""
    from dask_jobqueue import SLURMCluster

    return SLURMCluster(
        queue=args.partition,
        account=args.account,
        cores=args.cores,
        processes=args.cores,
        memory=args.memory,
        walltime=args.walltime,
        job_name="drivesynth-gen",
        log_directory=args.log_directory,
        job_script_prologue=[f"source {args.venv}/bin/activate",
                             "export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1"],
        scheduler_options={"interface": args.interface} if args.interface else {},
    )


def main(argv: list[str] | None = None) -> int:
    args, generate_args = parse_args(argv)
    try:
        cluster = make_cluster(args)
    except ModuleNotFoundError:
        print("dask-jobqueue is not installed: pip install dask-jobqueue", file=sys.stderr)
        return 2
    with cluster:
        if args.print_job_script:
            print(cluster.job_script())
            return 0
        cluster.scale(jobs=args.jobs)
        cmd = [sys.executable, "-m", "edge.cli", "generate", "--scheduler",
               cluster.scheduler_address, *generate_args]
        print("running:", " ".join(cmd), file=sys.stderr)
        return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
