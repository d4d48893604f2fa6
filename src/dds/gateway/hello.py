"""What the gateway says about the topology: rewritten hello replies and the replica set status.

The engine reports its own listen address in `hosts`; a driver doing replica set discovery
would then connect around the gateway. The gateway also answers `replSetGetStatus` and
`replSetGetConfig` (mongosh `rs.status()`, `rs.conf()`), which the engine does not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import Timestamp

from dds.gateway.errors import ErrorCode, Refusal

LOCAL_COMMANDS = frozenset({"replSetGetStatus", "replSetGetConfig"})


@dataclass(frozen=True)
class Topology:
    """The single-member view clients get: the advertised address, the set name, since when."""

    advertised: str
    repl_set_name: str | None
    started: datetime


def rewrite_hello(reply: dict[str, Any], topology: Topology, connection_id: int) -> dict[str, Any]:
    """The engine's hello/isMaster reply as a member at the advertised address would give it."""
    out = dict(reply)
    out.pop("compression", None)  # the engine cannot decompress; never let a driver negotiate it
    out["connectionId"] = connection_id
    advertised = topology.advertised
    if topology.repl_set_name:
        out["setName"] = out.get("setName") or topology.repl_set_name
        out["hosts"] = [advertised]
        out["me"] = advertised
        out["primary"] = advertised
    else:
        for key in ("me", "primary"):
            if key in out:
                out[key] = advertised
        if "hosts" in out:
            out["hosts"] = [advertised]
    return out


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)  # BSON dates carry milliseconds


def local_reply(command: str, topology: Topology) -> dict[str, Any]:
    """Reply to a command in LOCAL_COMMANDS; raises Refusal without a replica set."""
    if not topology.repl_set_name:
        raise Refusal(ErrorCode.NoReplicationEnabled, "not running with --replSet")
    if command == "replSetGetStatus":
        return repl_set_status(topology, _now())
    return repl_set_config(topology)


def repl_set_status(topology: Topology, now: datetime) -> dict[str, Any]:
    """A healthy one-member set whose only member is the primary, since the gateway started."""
    optime = {"ts": Timestamp(int(now.timestamp()), 1), "t": 1}
    started = topology.started
    member = {
        "_id": 0,
        "name": topology.advertised,
        "health": 1.0,
        "state": 1,
        "stateStr": "PRIMARY",
        "uptime": max(0, int((now - started).total_seconds())),
        "optime": optime,
        "optimeDate": now,
        "lastAppliedWallTime": now,
        "lastDurableWallTime": now,
        "syncSourceHost": "",
        "syncSourceId": -1,
        "infoMessage": "",
        "electionTime": Timestamp(int(started.timestamp()), 1),
        "electionDate": started,
        "configVersion": 1,
        "configTerm": 1,
        "self": True,
        "lastHeartbeatMessage": "",
    }
    return {
        "set": topology.repl_set_name,
        "date": now,
        "myState": 1,
        "term": 1,
        "syncSourceHost": "",
        "syncSourceId": -1,
        "heartbeatIntervalMillis": 2000,
        "majorityVoteCount": 1,
        "writeMajorityCount": 1,
        "votingMembersCount": 1,
        "writableVotingMembersCount": 1,
        "optimes": {
            "lastCommittedOpTime": optime,
            "lastCommittedWallTime": now,
            "readConcernMajorityOpTime": optime,
            "appliedOpTime": optime,
            "durableOpTime": optime,
            "lastAppliedWallTime": now,
            "lastDurableWallTime": now,
        },
        "members": [member],
        "ok": 1.0,
    }


def repl_set_config(topology: Topology) -> dict[str, Any]:
    """The matching one-member configuration."""
    config = {
        "_id": topology.repl_set_name,
        "version": 1,
        "term": 1,
        "members": [
            {
                "_id": 0,
                "host": topology.advertised,
                "arbiterOnly": False,
                "buildIndexes": True,
                "hidden": False,
                "priority": 1.0,
                "tags": {},
                "secondaryDelaySecs": 0,
                "votes": 1,
            }
        ],
        "protocolVersion": 1,
        "writeConcernMajorityJournalDefault": True,
        "settings": {"chainingAllowed": True, "heartbeatIntervalMillis": 2000, "electionTimeoutMillis": 10000},
    }
    return {"config": config, "ok": 1.0}
