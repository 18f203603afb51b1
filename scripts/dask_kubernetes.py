#!/usr/bin/env python3
"""Run ``drivesynth generate`` on Kubernetes through the Dask operator (dask-kubernetes).

Needs ``pip install dask-kubernetes`` (not a drivesynth dependency) where this script runs,
the Dask operator installed in the cluster (``helm install --repo https://helm.dask.org
dask-kubernetes-operator``), a container image with drivesynth installed (``--image``), and
a ReadWriteMany PersistentVolumeClaim (``--claim``) that is mounted at ``--mount`` in every
worker pod: workers write the shards there. This script writes the manifest to the same
folder, so run it where that volume is mounted too (a pod, or a host sharing the storage).

It creates a DaskCluster of ``--workers`` single-threaded worker pods, runs
``drivesynth generate --scheduler ADDR`` with the arguments after ``--`` and deletes the
cluster at the end. Example::

    python scripts/dask_kubernetes.py --image registry.example/drivesynth:1.0 \\
        --workers 32 --claim drivesynth-data --mount /data -- \\
        --out /data/train --scenarios 20000 --frames 20 --split train --seed 1

``--print-spec`` prints the DaskCluster resource (YAML-ready JSON) and creates nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", required=True, help="container image with drivesynth installed")
    p.add_argument("--name", default="drivesynth-gen", help="DaskCluster name")
    p.add_argument("--namespace", default=None, help="Kubernetes namespace (default: current)")
    p.add_argument("--workers", type=int, default=8, help="worker pods (default 8)")
    p.add_argument("--cpu", default="1", help="CPU request/limit per worker pod (default 1)")
    p.add_argument("--memory", default="2Gi", help="memory request/limit per pod (default 2Gi)")
    p.add_argument("--claim", required=True, help="PersistentVolumeClaim holding the output")
    p.add_argument("--mount", default="/data", help="where the claim is mounted (default /data)")
    p.add_argument("--print-spec", action="store_true", help="print the spec and exit")
    args, generate_args = p.parse_known_args(argv)
    generate_args = [a for a in generate_args if a != "--"]
    if args.workers < 1:
        p.error(f"--workers must be >= 1, got {args.workers}")
    if not args.print_spec and "--out" not in generate_args:
        p.error("pass the generate arguments after --, at least --out DIR --scenarios N ...")
    return args, generate_args


def cluster_spec(args: argparse.Namespace) -> dict:
    """The DaskCluster resource: one-thread workers with the output volume mounted."""
    from dask_kubernetes.operator import make_cluster_spec

    resources = {"requests": {"cpu": args.cpu, "memory": args.memory},
                 "limits": {"cpu": args.cpu, "memory": args.memory}}
    spec = make_cluster_spec(name=args.name, image=args.image, n_workers=args.workers,
                             resources=resources, env={"OMP_NUM_THREADS": "1"},
                             worker_command="dask-worker --nthreads 1")
    pod = spec["spec"]["worker"]["spec"]
    pod["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": args.claim}}]
    pod["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": args.mount}]
    return spec


def main(argv: list[str] | None = None) -> int:
    args, generate_args = parse_args(argv)
    try:
        spec = cluster_spec(args)
        from dask_kubernetes.operator import KubeCluster
    except ModuleNotFoundError:
        print("dask-kubernetes is not installed: pip install dask-kubernetes", file=sys.stderr)
        return 2
    if args.print_spec:
        print(json.dumps(spec, indent=2))
        return 0
    with KubeCluster(custom_cluster_spec=spec, namespace=args.namespace) as cluster:
        cmd = [sys.executable, "-m", "edge.cli", "generate", "--scheduler",
               cluster.scheduler_address, *generate_args]
        print("running:", " ".join(cmd), file=sys.stderr)
        return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
