"""The one protobuf body the emulator reads: the Job ``kubectl create job --from=cronjob/x`` posts.

kubectl 1.32's typed clients post protobuf (``application/vnd.kubernetes.protobuf``) and do not
fall back to JSON on a 415, so ``kubectl create job --from=cronjob/model-retrain`` (the
runbook's "start the retraining pipeline") cannot be emulated with JSON alone. Decoding the
whole Job schema would need every nested message's field numbers; instead this module decodes
the envelope and the Job's ``ObjectMeta`` (name, labels, annotations, ownerReferences) and the
server takes the spec from the owning CronJob's ``jobTemplate``, which is exactly what kubectl
copied into it. Any other protobuf body is refused with 415 by the server.
"""

from __future__ import annotations

from typing import Any

from festsafe_nb.sim.kube.common import Obj

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"


class ProtobufError(ValueError):
    """A body that is not the protobuf the emulator understands."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of one message: ints for varints, bytes otherwise."""
    out: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            out.append((number, value))
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise ProtobufError("truncated field")
            out.append((number, buf[pos : pos + size]))
            pos += size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            out.append((number, buf[pos : pos + size]))
            pos += size
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
    return out


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a string field")
    return value.decode()


def _message(value: int | bytes) -> bytes:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a message field")
    return value


def _string_map(entries: list[bytes]) -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in entries:
        kv = dict(fields(entry))
        out[_text(kv.get(1, b""))] = _text(kv.get(2, b""))
    return out


def _owner(buf: bytes) -> Obj:
    ref: dict[str, Any] = {}
    names = {1: "kind", 3: "name", 4: "uid", 5: "apiVersion"}
    for number, value in fields(buf):
        if number in names:
            ref[names[number]] = _text(value)
        elif number == 6:
            ref["controller"] = bool(value)
        elif number == 7:
            ref["blockOwnerDeletion"] = bool(value)
    return ref


def object_meta(buf: bytes) -> Obj:
    """``k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta``: the fields a client sets."""
    meta: Obj = {}
    labels: list[bytes] = []
    annotations: list[bytes] = []
    owners: list[Obj] = []
    finalizers: list[str] = []
    for number, value in fields(buf):
        if number in (1, 2, 3) and (text := _text(value)):
            meta[{1: "name", 2: "generateName", 3: "namespace"}[number]] = text
        elif number == 11:
            labels.append(_message(value))
        elif number == 12:
            annotations.append(_message(value))
        elif number == 13:
            owners.append(_owner(_message(value)))
        elif number == 14:
            finalizers.append(_text(value))
    if labels:
        meta["labels"] = _string_map(labels)
    if annotations:
        meta["annotations"] = _string_map(annotations)
    if owners:
        meta["ownerReferences"] = owners
    if finalizers:
        meta["finalizers"] = finalizers
    return meta


def decode_object_head(body: bytes) -> Obj:
    """apiVersion, kind and metadata of a protobuf-encoded object (spec and status omitted)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf envelope")
    envelope = dict(fields(body[len(MAGIC) :]))
    type_meta = dict(fields(_message(envelope.get(1, b""))))
    obj: Obj = {
        "apiVersion": _text(type_meta.get(1, b"")),
        "kind": _text(type_meta.get(2, b"")),
        "metadata": {},
    }
    for number, value in fields(_message(envelope.get(2, b""))):
        if number == 1:
            obj["metadata"] = object_meta(_message(value))
    return obj
