"""Rapid Cache (formerly Anywhere Cache): an SSD read cache for the model bucket in each serving zone.

Replicas that read weights through GCS FUSE read them from a cache in their own zone instead of the bucket
(https://cloud.google.com/storage/docs/anywhere-cache: a cache "must be created in a zone within the location
of your bucket", and a bucket has at most one cache per zone; "Anywhere Cache is now renamed Rapid Cache",
field-2026-12.md §3.2). Pulumi still calls it ``gcp.storage.AnywhereCache`` (pulumi-gcp 10.2.0
``storage/anywhere_cache.py``: ``bucket``, ``zone``, ``admission_policy``, ``ttl``, ``ingest_on_write``).

Rules and their sources:

* zones lie in the bucket's region (anywhere-cache page above); checked when the location is a region — for a
  multi- or dual-region bucket, any zone of its regions is allowed and not checked here;
* ``admission_policy``: the SDK lists ``admit-on-first-miss`` (the default) and ``admit-on-second-miss``, and
  says the latter "is deprecated … The backend will ignore this attribute and treat it as admit-on-first-miss";
  so only the first is accepted, and it is not sent: the SDK marks the whole field deprecated (it warns on any
  value) and the service default is the same policy. The storage v1 discovery document
  (google-api-python-client 2.202.0, revision 20261009, ``AnywhereCache.admissionPolicy``) gives no enum, and
  ``infra/discovery/`` does not vendor that schema;
* ``ttl``: whole seconds written ``"<n>s"``, default 86400 s (SDK docstring). No range is checked: none was found
  in a stored primary source.

Deleting a bucket that still has caches fails; Pulumi deletes the caches first (they depend on the bucket), and
a cache takes a while to disable (the provider's own example waits before deleting the bucket,
pulumi/pulumi-gcp ``sdk/python/pulumi_gcp/storage/anywhere_cache.py`` @0b91703b).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.options import child_options
from infra.validation import Problem, raise_if_problems, type_problems, unique

TYPE = "gke-inference:infra:RapidCache"
ADMISSION_POLICIES = ("admit-on-first-miss",)
DEPRECATED_ADMISSION_POLICIES = ("admit-on-second-miss",)
DEFAULT_TTL_SECONDS = 86400
_REGION = re.compile(r"^[a-z]+-[a-z]+\d+$")


@dataclass(frozen=True)
class RapidCacheArgs:
    bucket: pulumi.Input[str]
    """Name of the bucket to cache (pass the ModelBucket's ``bucket_name`` so the caches wait for it)."""
    bucket_location: str
    """The bucket's location, e.g. ``us-central1`` (zones are checked against it when it is a region)."""
    zones: tuple[str, ...]
    """Zones to cache in: those of the serving node pools."""
    ttl_seconds: int = DEFAULT_TTL_SECONDS
    """How long an entry stays cached without reads."""
    admission_policy: str | None = None
    """``admit-on-first-miss`` or None (the same: the service default); accepted for clarity, never sent."""
    ingest_on_write: bool = False
    """Cache objects as they are written (the downloader's writes warm the cache)."""


def validate_rapid_cache_args(args: RapidCacheArgs) -> list[Problem]:
    """Every problem with ``args`` (empty when the caches can be created); pure."""
    problems = type_problems(args, RapidCacheArgs)
    if problems:
        return problems
    if not args.zones:
        problems.append(Problem("zones", "give at least one zone (those of the serving pools)"))
    problems += unique("zones", args.zones, "zone (a bucket has one cache per zone)")
    location = args.bucket_location.lower()
    if _REGION.match(location):
        for index, zone in enumerate(args.zones):
            if not zone.startswith(location + "-"):
                problems.append(Problem(f"zones.{index}", f"'{zone}' is not in {{bucket_location}} {location}: a "
                                                          "cache must be in a zone of the bucket's location"))
    if args.admission_policy in DEPRECATED_ADMISSION_POLICIES:
        problems.append(Problem("admission_policy", f"'{args.admission_policy}' is deprecated and ignored (treated as "
                                                    "admit-on-first-miss, pulumi-gcp 10.2.0); use "
                                                    "admit-on-first-miss or leave it unset"))
    elif args.admission_policy is not None and args.admission_policy not in ADMISSION_POLICIES:
        problems.append(Problem("admission_policy", f"'{args.admission_policy}' is not one of "
                                                    f"{', '.join(ADMISSION_POLICIES)}"))
    if args.ttl_seconds < 1:
        problems.append(Problem("ttl_seconds", f"{args.ttl_seconds}: a TTL is a positive number of seconds"))
    return problems


class RapidCache(pulumi.ComponentResource):
    """One Rapid Cache per zone for a bucket (module docstring); ``caches`` by zone."""

    caches: dict[str, gcp.storage.AnywhereCache]

    def __init__(self, name: str, args: RapidCacheArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if_problems(TYPE, name, validate_rapid_cache_args(args))
        super().__init__(TYPE, name, {}, opts)
        self.caches = {
            zone: gcp.storage.AnywhereCache(
                f"{name}-{zone}",
                bucket=args.bucket,
                zone=zone,
                ttl=f"{args.ttl_seconds}s",
                ingest_on_write=args.ingest_on_write,
                opts=child_options(self, opts),
            )
            for zone in args.zones
        }
        self.register_outputs({"zones": list(self.caches)})
