"""What the gateway says about the topology: rewritten hello replies and the replica set status.

The engine reports its own listen address in `hosts`; a driver doing replica set discovery
would then connect around the gateway. The gateway also answers `replSetGetStatus` and
`replSetGetConfig` (mongosh `rs.status()`, `rs.conf()`), which the engine does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson import Int64, ObjectId, Timestamp

from dds.gateway.errors import ErrorCode, Refusal
from dds.gateway.members import Member, MemberWatch

LOCAL_COMMANDS = frozenset({"replSetGetStatus", "replSetGetConfig"})


@dataclass(frozen=True)
class Topology:
    """The view clients get: the advertised address, the set name, since when; with `members`
    (a replica set on PostgreSQL storage), every member and, from `watch`, who is primary."""

    advertised: str
    repl_set_name: str | None
    started: datetime
    members: tuple[Member, ...] = ()
    watch: MemberWatch | None = None
    process_id: ObjectId = field(default_factory=ObjectId)

    @property
    def writable(self) -> bool:
        """This member takes writes (always, for a set of one)."""
        return self.watch is None or self.watch.writable()

    def primary_address(self) -> str | None:
        if self.watch is None:
            return self.advertised
        name = self.watch.view.primary()
        return next((m.address for m in self.members if m.name == name), None)

    def member(self) -> Member | None:
        """The member this gateway fronts (a replica set on PostgreSQL storage)."""
        me = self.watch.me if self.watch else None
        return next((m for m in self.members if m.name == me), None)

    def hosts(self) -> list[str]:
        """What drivers discover: the members that may be primary (read replicas are hidden)."""
        return [m.address for m in self.members if not m.hidden] or [self.advertised]

    def election_id(self) -> ObjectId:
        """MongoDB's shape (max timestamp + term); the term is the PostgreSQL timeline."""
        term = self.watch.timeline() if self.watch else 1
        return ObjectId(f"7fffffff{term:016x}")


def rewrite_hello(reply: dict[str, Any], topology: Topology, connection_id: int) -> dict[str, Any]:
    """The engine's hello/isMaster reply as a member at the advertised address would give it."""
    out = dict(reply)
    out.pop("compression", None)  # the engine cannot decompress; never let a driver negotiate it
    out["connectionId"] = connection_id
    advertised = topology.advertised
    if topology.repl_set_name:
        out["setName"] = out.get("setName") or topology.repl_set_name
        out["hosts"] = topology.hosts()
        out["me"] = advertised
        primary = topology.primary_address()
        if primary:
            out["primary"] = primary
        else:
            out.pop("primary", None)
        writable = topology.writable
        for key in ("isWritablePrimary", "ismaster"):
            if key in out:
                out[key] = writable
        out["secondary"] = not writable
        me = topology.member()
        if me is not None and me.hidden:  # a read replica, as MongoDB shows a hidden member
            out["hidden"], out["passive"] = True, True
        if topology.watch is not None:
            out["setVersion"] = 1
            if writable:
                out["electionId"] = topology.election_id()
            else:
                out.pop("electionId", None)
            out["topologyVersion"] = {"processId": topology.process_id, "counter": Int64(topology.watch.changes)}
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


_STATE_STR = {1: "PRIMARY", 2: "SECONDARY", 8: "(not reachable/healthy)", 0: "STARTUP"}


def _member_rows(topology: Topology) -> list[tuple[int, str, int, bool]]:
    """(_id, address, MongoDB state, self) of every member: PRIMARY 1, SECONDARY 2, STARTUP 0
    (a member being created, rebuilt or promoted), DOWN 8 (the monitor finds it unhealthy)."""
    if topology.watch is None or not topology.members:
        return [(0, topology.advertised, 1, True)]
    rows = []
    view = topology.watch.view
    for i, member in enumerate(topology.members):
        state = view.states.get(member.name)
        if state is None:
            code = 0
        elif state.writable or view.promoted == member.name:
            code = 1
        elif not state.healthy:
            code = 8
        elif state.standby:
            code = 2
        else:
            code = 0
        rows.append((i, member.address, code, member.name == topology.watch.me))
    return rows


def repl_set_status(topology: Topology, now: datetime) -> dict[str, Any]:
    """Every member and its state (a set of one: the gateway's own member, primary since the
    gateway started). Optimes are the reply's time: the members' PostgreSQL positions are not
    MongoDB optimes."""
    t = topology.watch.timeline() if topology.watch else 1  # the term electionId carries
    optime = {"ts": Timestamp(int(now.timestamp()), 1), "t": t}
    started = topology.started
    members = []
    my_state = 1
    for member_id, address, state, me in _member_rows(topology):
        row: dict[str, Any] = {
            "_id": member_id,
            "name": address,
            "health": 0.0 if state == 8 else 1.0,
            "state": state,
            "stateStr": _STATE_STR[state],
            "uptime": max(0, int((now - started).total_seconds())),
            "optime": optime,
            "optimeDate": now,
            "lastAppliedWallTime": now,
            "lastDurableWallTime": now,
            "syncSourceHost": "",
            "syncSourceId": -1,
            "infoMessage": "",
            "configVersion": 1,
            "configTerm": t,
            "lastHeartbeatMessage": "",
        }
        if state == 1:
            row["electionTime"] = Timestamp(int(started.timestamp()), 1)
            row["electionDate"] = started
        if me:
            row["self"] = True
            my_state = state
        members.append(row)
    voting = len([m for m in topology.members if not m.hidden]) or len(members)
    majority = voting // 2 + 1
    return {
        "set": topology.repl_set_name,
        "date": now,
        "myState": my_state,
        "term": t,
        "syncSourceHost": "",
        "syncSourceId": -1,
        "heartbeatIntervalMillis": 2000,
        "majorityVoteCount": majority,
        "writeMajorityCount": majority,
        "votingMembersCount": voting,
        "writableVotingMembersCount": voting,
        "optimes": {
            "lastCommittedOpTime": optime,
            "lastCommittedWallTime": now,
            "readConcernMajorityOpTime": optime,
            "appliedOpTime": optime,
            "durableOpTime": optime,
            "lastAppliedWallTime": now,
            "lastDurableWallTime": now,
        },
        "members": members,
        "ok": 1.0,
    }


def repl_set_config(topology: Topology) -> dict[str, Any]:
    """The matching one-member configuration."""
    by_address = {m.address: m for m in topology.members}
    rows = []
    for member_id, address, _state, _me in _member_rows(topology):
        member = by_address.get(address)
        replica = member is not None and member.hidden  # a read replica: never elected, never votes
        rows.append(
            {
                "_id": member_id,
                "host": address,
                "arbiterOnly": False,
                "buildIndexes": True,
                "hidden": replica,
                "priority": 0.0 if replica else 1.0,
                "tags": {},
                "secondaryDelaySecs": round(member.delay_ms / 1000) if member and replica else 0,
                "votes": 0 if replica else 1,
            }
        )
    config = {
        "_id": topology.repl_set_name,
        "version": 1,
        "term": 1,
        "members": rows,
        "protocolVersion": 1,
        "writeConcernMajorityJournalDefault": True,
        "settings": {"chainingAllowed": True, "heartbeatIntervalMillis": 2000, "electionTimeoutMillis": 10000},
    }
    return {"config": config, "ok": 1.0}
