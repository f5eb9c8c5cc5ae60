"""Reads a Perfetto trace with Perfetto's own protobuf bindings (the `perfetto` package's
perfetto_trace_pb2) and prints a JSON digest of it: tracks, events by name and track, the
arguments of every event, and any field the bindings do not know (there must be none).

Usage: python3 perfetto_digest.py TRACE.pftrace > digest.json
"""

import json
import sys

from google.protobuf import unknown_fields
from perfetto.protos.perfetto.trace import perfetto_trace_pb2 as pb


def unknown(msg, path, out):
    """Paths of fields the schema does not know, in msg and the messages it holds."""
    if len(unknown_fields.UnknownFieldSet(msg)):
        out.append(path)
    for field, value in msg.ListFields():
        if field.message_type is None:
            continue
        values = value if field.is_repeated else [value]
        for i, v in enumerate(values):
            unknown(v, f"{path}.{field.name}[{i}]", out)


def annotation_value(a, names):
    if a.array_values:
        return [annotation_value(v, names) for v in a.array_values]
    if a.dict_entries:
        return {annotation_name(v, names): annotation_value(v, names) for v in a.dict_entries}
    for kind in ("int_value", "uint_value", "string_value", "bool_value", "double_value"):
        if a.HasField(kind):
            return getattr(a, kind)
    return None


def annotation_name(a, names):
    if a.HasField("name_iid"):
        return names[a.name_iid]
    return a.name


def main(path):
    trace = pb.Trace()
    with open(path, "rb") as f:
        trace.ParseFromString(f.read())
    event_names, categories, arg_names = {}, {}, {}
    tracks, events, unknowns, sequences = {}, [], [], set()
    clock = None
    for i, p in enumerate(trace.packet):
        unknown(p, f"packet[{i}]", unknowns)
        sequences.add(p.trusted_packet_sequence_id)
        if p.HasField("clock_snapshot"):
            clock = {c.clock_id: c.timestamp for c in p.clock_snapshot.clocks}
        if p.HasField("interned_data"):
            d = p.interned_data
            for n in d.event_names:
                event_names[n.iid] = n.name
            for n in d.event_categories:
                categories[n.iid] = n.name
            for n in d.debug_annotation_names:
                arg_names[n.iid] = n.name
        if p.HasField("track_descriptor"):
            d = p.track_descriptor
            t = {"uuid": d.uuid, "name": d.name, "parent": d.parent_uuid or None}
            if d.HasField("process"):
                t["process"] = {
                    "pid": d.process.pid,
                    "name": d.process.process_name,
                    "cmdline": list(d.process.cmdline),
                    "labels": list(d.process.process_labels),
                }
            if d.HasField("thread"):
                t["thread"] = {
                    "pid": d.thread.pid,
                    "tid": d.thread.tid,
                    "name": d.thread.thread_name,
                }
            if d.HasField("counter"):
                t["counter"] = True
            tracks[d.uuid] = t
        if p.HasField("track_event"):
            e = p.track_event
            if e.track_uuid not in tracks:
                raise SystemExit(f"packet {i}: event on track {e.track_uuid} before its descriptor")
            name = event_names[e.name_iid] if e.HasField("name_iid") else e.name
            events.append({
                "ts": p.timestamp,
                "type": pb.TrackEvent.Type.Name(e.type),
                "track": e.track_uuid,
                "name": name,
                "categories": [categories[c] for c in e.category_iids],
                "args": {annotation_name(a, arg_names): annotation_value(a, arg_names)
                         for a in e.debug_annotations},
                "value": e.double_counter_value if e.HasField("double_counter_value") else None,
            })
    json.dump({
        "packets": len(trace.packet),
        "sequences": sorted(sequences),
        "clock": {str(k): v for k, v in (clock or {}).items()},
        "unknown_fields": unknowns[:20],
        "tracks": list(tracks.values()),
        "events": events,
    }, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
