"""The sync engine: two collections, one :class:`~openprotocols.sync.status.Status`, and
nothing lost.

It knows only the collection protocol (:mod:`openprotocols.backends.base`), so any two
collections sync: the local store and a server (the normal case), a store folder and a new
server collection (export), two servers (migration).

One run
-------

1. **Changes.** Each side's :meth:`~openprotocols.backends.base.Collection.changes`
   since the state of the last complete run. A full listing (first run, expired token,
   replaced collection) is turned into the same shape: what is listed with a new version
   changed, what the status knows but is not listed is gone. An error here — the server
   offline, a refused login — ends the run before anything is written: an error is never
   read as a deletion. The changes go to the run's :class:`~openprotocols.sync.plan.Spool`
   (the status provides it: the local store's is a temporary SQLite database), and so
   does the plan: the engine's memory does not grow with the collections.
2. **Plan.** Each change is matched to its :class:`~openprotocols.sync.status.Pair` by id,
   giving one :class:`Action` per item (create, update, delete, conflict, restore, forget).
   Items that are new on a side while pairs of that side vanished — a UIDVALIDITY change,
   a collection recreated with new ids — are fetched and *re-associated* with those pairs
   by UID, then by content hash, instead of becoming deletions plus creations. The
   :class:`Guard` then checks the deletions: too many on one side, or a side that is
   suddenly empty, stop the run with :class:`~openprotocols.errors.MassChangeError` before
   any write. :meth:`Engine.plan` returns this plan without executing it (a dry run).
3. **Execution**, in batches of ``batch_size``: the items are fetched with the batched
   ``get``, compared by :func:`~openprotocols.sync._hash.content_hash` (a version that
   moved with equal content is not a change), written to the other side with conditional
   writes only, and the pairs committed with every batch. Items new on both sides at
   once (a first sync of two full collections) are matched by UID, then content, not
   duplicated.
4. **States** are saved only when every change was applied: after an error or a crash the
   next run sees the same changes again, and what was already done compares equal and
   costs nothing. A remote create interrupted before its pair was saved is found again
   by UID (``AlreadyExistsError`` or the new-on-both-sides match), not duplicated.

Conflicts and edits against deletes
-----------------------------------

An edit always beats a delete: the edited item is re-created on the side that deleted it.
When both sides changed an item to different contents, the binding's
:class:`~openprotocols.model.ConflictPolicy` decides, and the loser is handed to
:meth:`Status.keep <openprotocols.sync.status.Status.keep>`: under *keep both* (the
default) the server's version takes the item's place on both sides and the local one goes
to the conflict queue; *server wins* and *local wins* keep the loser in the history;
*newest wins* compares ``last_modified`` (ties and unknown times go to the server); *ask*
leaves both sides untouched and queues the conflict. A conditional write that fails
because the target moved meanwhile (a 412) is resolved the same way, with the target's
current version — never skipped silently, never retried blindly.

Directions: *download* never writes to the remote side and *upload* never to the local
side; changes that would go the other way are counted in :attr:`SyncReport.skipped`.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import attrs

from openprotocols.backends.base import Changes, Collection, Entry, ItemRef
from openprotocols.errors import (
    AlreadyExistsError,
    ConflictError,
    ConnectionError,
    MassChangeError,
    NotFoundError,
    OpenProtocolsError,
)
from openprotocols.model._base import Item, RawProperty
from openprotocols.model.bindings import ConflictPolicy, Direction

from ._hash import content_hash
from .plan import Action, ActionKind, Plan, Spool
from .status import Kept, KeptReason, Pair, Side, Status

__all__ = [
    "Action",
    "ActionKind",
    "Engine",
    "Guard",
    "Plan",
    "Progress",
    "SyncReport",
]

log = logging.getLogger(__name__)

AnyCollection = Collection[Any]


@attrs.frozen
class Guard:
    """The mass-change guard: a run that would delete more than ``fraction`` of a side and
    more than ``minimum`` items there, or finds a side empty that held items, stops
    before writing unless ``confirmed``."""

    fraction: float = 0.2
    minimum: int = 10
    confirmed: bool = False

    def check(self, side: Side, deletions: int, total: int, *, emptied: bool) -> None:
        """Raise :class:`MassChangeError` if deleting ``deletions`` of ``total`` on
        ``side`` needs confirmation."""
        if self.confirmed or total == 0:
            return
        if emptied:
            raise MassChangeError(
                f"the {side.other} side is suddenly empty: deleting all {total} items on "
                f"the {side} side needs confirmation",
                side=str(side),
                deletions=deletions,
                total=total,
            )
        if deletions > self.minimum and deletions > self.fraction * total:
            raise MassChangeError(
                f"the sync would delete {deletions} of {total} items on the {side} side; "
                "confirm to go on",
                side=str(side),
                deletions=deletions,
                total=total,
            )


@attrs.frozen
class Progress:
    """A progress event: ``phase`` is ``"changes"``, ``"plan"`` or ``"apply"``;
    ``folder`` names the local folder when a binding reports it."""

    phase: str
    done: int
    total: int
    folder: str | None = None


@attrs.define
class SyncReport:
    """What a run did (or, for a dry run, would do).

    ``created``, ``updated`` and ``deleted`` count writes per target side; ``conflicts``
    counts conflicts met (however resolved), ``unresolved`` those left for the user
    (policy *ask*); ``errors`` lists the items that failed, with the error (the next run
    tries them again); ``offline`` says a side could not be reached (nothing, or only
    part, was done; the local changes wait for the next run).
    """

    plan: Plan
    dry_run: bool = False
    created: dict[Side, int] = attrs.Factory(lambda: dict.fromkeys(Side, 0))
    updated: dict[Side, int] = attrs.Factory(lambda: dict.fromkeys(Side, 0))
    deleted: dict[Side, int] = attrs.Factory(lambda: dict.fromkeys(Side, 0))
    unchanged: int = 0
    conflicts: int = 0
    unresolved: int = 0
    errors: list[tuple[str, OpenProtocolsError]] = attrs.Factory(list)
    offline: bool = False

    @property
    def skipped(self) -> int:
        """Changes the binding's direction does not carry."""
        return self.plan.skipped

    @property
    def writes(self) -> int:
        """Every write made, on both sides."""
        return sum(
            counts[side] for counts in (self.created, self.updated, self.deleted) for side in Side
        )

    @property
    def ok(self) -> bool:
        """Whether every change was applied."""
        return not self.errors and not self.offline


@attrs.frozen
class _Delta:
    """One side's changes: the ids and versions themselves are in the spool."""

    state: str
    full: bool
    listed: int


@attrs.frozen
class _Seen:
    """What the plan phase learnt of an item it fetched (small: no item kept)."""

    id: str
    version: str
    uid: str | None
    hash: str


class Engine:
    """Syncs ``local`` and ``remote`` through ``status`` (see the module documentation).

    :param direction: which way changes flow.
    :param policy: what to do when both sides changed an item.
    :param guard: the mass-change guard.
    :param progress: called with :class:`Progress` events.
    :param batch_size: items per fetch and per commit.
    :param verify: list both sides in full instead of trusting the saved states (the
        troubleshooting mode): every item's version is checked against the pairs.
    """

    def __init__(
        self,
        local: AnyCollection,
        remote: AnyCollection,
        status: Status,
        *,
        direction: Direction = Direction.TWO_WAY,
        policy: ConflictPolicy = ConflictPolicy.KEEP_BOTH,
        guard: Guard | None = None,
        progress: Callable[[Progress], None] | None = None,
        batch_size: int = 100,
        verify: bool = False,
    ) -> None:
        self.sides = {Side.LOCAL: local, Side.REMOTE: remote}
        self.status = status
        self.direction = Direction(direction)
        self.policy = ConflictPolicy(policy)
        self.guard = guard or Guard()
        self.progress = progress
        self.batch_size = batch_size
        self.verify = verify
        self._deltas: dict[Side, _Delta] = {}
        self._spool: Spool  # a new one for every plan(), which the plan keeps
        self._moved: dict[tuple[Side, str], Pair] = {}  # re-associated, saved on execution
        self._moved_keys: dict[int, Pair] = {}  # the same, by pair key: the run's copy
        self._written: dict[Side, dict[str, str | None]] = {Side.LOCAL: {}, Side.REMOTE: {}}
        """What this run wrote on each side since :attr:`_verified`: id → new version
        (``None``: deleted)."""
        self._verified: dict[Side, str] = {}
        """Per side, the latest state up to which every change is this run's own write
        (the run's starting state, moved on as batches are checked: see :meth:`_states`)."""
        self._foreign: set[Side] = set()
        """Sides where something other than this run changed items during the run."""
        self._matches: dict[Side, dict[Any, _Seen]] = {Side.LOCAL: {}, Side.REMOTE: {}}
        self._indexed: Side | None = None  # the side whose new items _matches holds

    # -- 1. changes ----------------------------------------------------------------

    def _delta(self, side: Side) -> _Delta:
        """Spool ``side``'s changes: what changed, with its version, and what is gone
        (for a full listing: the ids the pairs know that the listing lacks)."""
        since = None if self.verify else self.status.state(side)
        changes: Changes = self.sides[side].changes(since)
        spool = self._spool
        spool.add_changed(side, changes.changed)
        if changes.full:
            spool.add_deleted(side, (i for p in self.status.pairs() if (i := p.id(side))))
        else:
            spool.add_deleted(side, changes.deleted)
        return _Delta(changes.state, changes.full, spool.count_changed(side))

    # -- 2. plan -------------------------------------------------------------------

    def plan(self) -> Plan:
        """Find what changed on both sides and decide what to do, writing nothing.

        :raises MassChangeError: the guard stopped the run.
        :raises BackendError: a side's changes could not be read (e.g. offline).
        """
        self._spool = spool = self.status.spool()
        self._moved.clear()
        self._moved_keys.clear()
        self._emit("changes", 0, 2)
        self._deltas = {side: self._delta(side) for side in Side}
        self._emit("changes", 2, 2)
        reassociated = sum(self._reassociate(side) for side in Side)
        paired = self.status.count() > 0  # else (a first sync) there is no pair to look up
        for side in Side:
            for item_id, version in spool.changed(side):
                pair = self._pair_of(side, item_id) if paired else None
                if pair is None:
                    spool.append(f"new {side}", item_id)
                elif pair.version(side) != version:
                    spool.touch(pair, side, deleted=False)
            for item_id in spool.deleted(side):
                pair = self._pair_of(side, item_id)
                if pair is not None and pair.key is not None:
                    spool.touch(pair, side, deleted=True)
        # each touched pair is a copy: execution updates it before writing, and a
        # failed write must not leave those updates in the status's own pairs
        touched = (_pair_action(*touch) for touch in spool.touched())
        created = (
            Action(ActionKind.CREATE, side, side.other, item_id)
            for side in Side
            for item_id in spool.queue(f"new {side}")
        )
        skipped = 0
        for action in itertools.chain(touched, created):
            if self._allowed(action):
                spool.add_action(action)
            else:
                skipped += 1
        plan = Plan(
            spool.actions(),
            frozenset(side for side, delta in self._deltas.items() if delta.full),
            skipped=skipped,
            reassociated=reassociated,
        )
        self._check_guard(plan)
        self._emit("plan", len(plan), len(plan))
        return plan

    def _pair_of(self, side: Side, item_id: str) -> Pair | None:
        """The pair of ``item_id``: this run's re-associated copy if it has one (by
        either side's id), else the status's."""
        pair = self._moved.get((side, item_id)) or self.status.pair(side, item_id)
        if pair is None or pair.key is None:
            return pair
        return self._moved_keys.get(pair.key, pair)

    def _allowed(self, action: Action) -> bool:
        if action.target is None:
            return True
        if self.direction is Direction.DOWNLOAD:
            return action.target is Side.LOCAL
        if self.direction is Direction.UPLOAD:
            return action.target is Side.REMOTE
        return True

    def _check_guard(self, plan: Plan) -> None:
        total = self.status.count()
        for side in Side:
            deletions = plan.count(ActionKind.DELETE, side)
            source = self._deltas[side.other]
            emptied = source.full and source.listed == 0 and deletions > 0
            self.guard.check(side, deletions, total, emptied=emptied)

    def _reassociate(self, side: Side) -> int:
        """Give pairs whose ``side`` id vanished the new ids of the same items (by UID,
        then content); return how many. Only runs when a side has both; the vanished
        pairs are then held in memory (a UIDVALIDITY change: all of the side's)."""
        spool = self._spool
        vanished = [p for i in spool.deleted(side) if (p := self._pair_of(side, i)) is not None]
        if not vanished:
            return 0
        fresh = f"fresh {side}"  # a queue: the collection may read it in another thread
        for item_id, _ in spool.changed(side):
            if self.status.pair(side, item_id) is None:
                spool.append(fresh, item_id)
        by_uid = {p.uid: p for p in vanished if p.uid is not None}
        by_hash = {p.hash: p for p in vanished}
        count = 0
        for entry in self._fetch(side, spool.queue(fresh)):
            seen = _seen(entry)
            pair = by_uid.pop(seen.uid, None) if seen.uid is not None else None
            if pair is None:
                pair = by_hash.pop(seen.hash, None)
            if pair is None:
                continue
            old_id = pair.id(side)
            moved = attrs.evolve(pair)  # the status's own pair changes only when saved
            moved.set(side, seen.id, seen.version if pair.hash == seen.hash else None)
            self._moved[(side, seen.id)] = moved
            if moved.key is not None:
                self._moved_keys[moved.key] = moved
            if old_id is not None:
                spool.undelete(side, old_id)
            count += 1
        if count:
            log.info("Re-associated %d items on the %s side by UID and content", count, side)
        return count

    # -- 3. execution --------------------------------------------------------------

    def run(self, *, dry_run: bool = False) -> SyncReport:
        """Plan, then (unless ``dry_run``) execute, commit and save the states.

        A side that cannot be reached gives a report with ``offline`` set; every other
        error of one item is reported in :attr:`SyncReport.errors` and the run goes on.

        :raises MassChangeError: the guard stopped the run (nothing was written).
        """
        try:
            plan = self.plan()
        except ConnectionError as exc:
            log.warning("Sync skipped, a side is offline: %s", exc)
            return SyncReport(Plan(()), dry_run=dry_run, offline=True)
        report = SyncReport(plan, dry_run=dry_run)
        if dry_run:
            return report
        try:
            self._execute(plan, report)
        except ConnectionError as exc:
            log.warning("Sync interrupted, a side went offline: %s", exc)
            report.offline = True
        # An open question ("ask") keeps the old states: the next run meets it again.
        self.status.commit(self._states() if report.ok and not report.unresolved else None)
        return report

    def _states(self) -> dict[Side, str]:
        """The states to save: for each side, the latest state up to which every change
        it reports is one of this run's own writes — so that the next run does not read
        back what this one wrote — and never past a change made by anyone else."""
        for side in Side:
            self._verify(side)
        return {side: self._verified.get(side, delta.state) for side, delta in self._deltas.items()}

    def _verify(self, side: Side) -> None:
        """Move :attr:`_verified` of ``side`` past this run's writes there, if the side
        reports nothing else since; forget the writes either way (memory stays bounded
        by the batch size: :meth:`_execute` calls this after every batch that wrote)."""
        written = self._written[side]
        if not written:
            return
        self._written[side] = {}
        if side in self._foreign:
            return
        since = self._verified.get(side, self._deltas[side].state)
        try:
            after = self.sides[side].changes(since)
        except OpenProtocolsError:
            self._foreign.add(side)  # cannot tell: the next run reads them back, never wrong
            return
        ours = (
            not after.full
            and all(written.get(ref.id, "") == ref.version for ref in after.changed)
            and all(item_id in written and written[item_id] is None for item_id in after.deleted)
        )
        if ours:
            self._verified[side] = after.state
        else:
            self._foreign.add(side)

    def _execute(self, plan: Plan, report: SyncReport) -> None:
        for pair in self._moved_keys.values():
            self.status.save(pair)
        groups = plan.actions.groups()
        indexed = self._index_new_on_both_sides(plan)
        if indexed is not None:  # the indexed side's creates go last: most are matched
            groups.remove((ActionKind.CREATE, indexed))
            groups.append((ActionKind.CREATE, indexed))
        done = 0
        for kind, source in groups:
            actions = plan.actions.group(kind, source)
            if kind in (ActionKind.DELETE, ActionKind.FORGET, ActionKind.CONFLICT):
                counts: Iterable[int] = self._in_batches(kind, actions, report)
            else:
                assert source is not None
                counts = self._copies(source, actions, report)
            for count in counts:  # one batch applied
                done += count
                self.status.commit()
                for side in Side:
                    if len(self._written[side]) >= self.batch_size:
                        self._verify(side)
                self._emit("apply", done, len(plan))

    def _in_batches(
        self, kind: ActionKind, actions: Iterable[Action], report: SyncReport
    ) -> Iterator[int]:
        """Deletes, forgets or conflicts, a batch at a time; the size of each batch."""
        for batch in _batches(actions, self.batch_size):
            if kind is ActionKind.CONFLICT:
                self._conflicts(batch, report)
            else:
                for action in batch:
                    self._guarded(report, action, functools.partial(self._delete, action, report))
            yield len(batch)

    def _guarded(self, report: SyncReport, action: Action, step: Callable[[], None]) -> None:
        try:
            step()
        except ConnectionError:
            raise
        except OpenProtocolsError as exc:
            log.warning("Could not %s %s: %s", action.kind, action.id, exc)
            report.errors.append((f"{action.kind} {action.source}:{action.id}", exc))

    def _copies(self, source: Side, actions: Iterable[Action], report: SyncReport) -> Iterator[int]:
        """Creates, updates and restores from ``source``, applied a batch at a time; the
        number of actions each batch settled.

        The items come from one ``get`` of every id, so a collection that prefetches
        keeps its next requests on the way while a batch is applied. ``get`` takes the
        ids as it sends them, and ``asked`` holds the actions of those not back yet: a
        few batches, not the whole group.
        """
        asked: dict[str, Action] = {}

        def ids() -> Iterator[str]:
            for action in actions:
                if action.id is not None:
                    asked[action.id] = action
                    yield action.id

        for chunk in _batches(self._fetch(source, ids()), self.batch_size):
            pairs = [(entry, action) for entry in chunk if (action := self._asked(asked, entry))]
            kept = self._local_extras([a for _, a in pairs]) if source is Side.REMOTE else {}
            for fetched_entry, action in pairs:
                extras = kept.get(fetched_entry.id)
                entry = _with_extras(fetched_entry, extras) if extras else fetched_entry
                self._guarded(report, action, functools.partial(self._copy, action, entry, report))
            yield len(pairs)
        for item_id in asked:  # deleted since changes(): the next run sees it
            log.info("%s %s vanished before it could be copied", source, item_id)
        if asked:
            yield len(asked)

    @staticmethod
    def _asked(asked: dict[str, Action], entry: Entry[Any]) -> Action | None:
        """The action waiting for ``entry``, taken off ``asked``; ``None`` for an item
        that was not asked for, or came twice (a collection breaking its contract), which
        is left out rather than copied in place of another."""
        action = asked.pop(entry.id, None)
        if action is None:
            log.warning("%s was not asked for (or came twice): left out", entry.id)
        return action

    def _local_extras(self, batch: Sequence[Action]) -> dict[str, tuple[RawProperty, ...]]:
        """The ``X-`` properties of the local items that remote updates will replace, by
        remote id: what a server does not store survives on the local side."""
        local_ids = {
            a.pair.local_id: a.id
            for a in batch
            if a.kind is ActionKind.UPDATE and a.pair is not None and a.pair.local_id and a.id
        }
        found: dict[str, tuple[RawProperty, ...]] = {}
        for entry in self._fetch(Side.LOCAL, list(local_ids)):
            extended = getattr(entry.item, "extended", None)
            extras = tuple(
                p for p in getattr(extended, "properties", ()) if p.name.upper().startswith("X-")
            )
            if extras:
                found[local_ids[entry.id]] = extras
        return found

    def _copy(self, action: Action, entry: Entry[Any], report: SyncReport) -> None:
        source, target = action.source, action.target
        assert source is not None
        assert target is not None
        seen = _seen(entry)
        pair = action.pair
        if action.kind is ActionKind.CREATE:
            if source is self._indexed and self.status.pair(source, seen.id) is not None:
                return  # matched with a new item of the other side meanwhile
            if self._paired_new(source, seen, entry, report):
                return
        elif pair is not None and action.kind is ActionKind.UPDATE and pair.hash == seen.hash:
            pair.set(source, seen.id, seen.version)  # a new version, the same content
            self.status.save(pair)
            report.unchanged += 1
            return
        elif pair is not None and action.kind is ActionKind.RESTORE:
            pair.set(target, None, None)  # deleted there: create it anew
        try:
            ref, created = self._write(target, pair, entry)
        except AlreadyExistsError as exc:  # the same UID is there (a cut-off earlier run?)
            if exc.id is None:
                raise
            pair = pair or Pair(None, None, None, None, seen.hash, seen.uid)
            pair.set(target, exc.id, exc.current_version)
            self._resolve_against(pair, source, entry, exc.id, report, known=False)
            return
        except ConflictError:  # the target moved since changes(): a conflict after all
            if pair is None or (target_id := pair.id(target)) is None:
                raise
            self._resolve_against(pair, source, entry, target_id, report)
            return
        if pair is None:
            pair = Pair(None, None, None, None, seen.hash, seen.uid)
        pair.set(source, seen.id, seen.version)
        pair.set(target, ref.id, ref.version)
        pair.hash, pair.uid = seen.hash, seen.uid
        self.status.save(pair)
        (report.created if created else report.updated)[target] += 1

    def _write(self, target: Side, pair: Pair | None, entry: Entry[Any]) -> tuple[ItemRef, bool]:
        """Write ``entry``'s item (and bytes) over ``pair``'s ``target`` item, or create
        it: ``(ref, created)``.

        :raises ConflictError: the target item moved on (or, for a create, exists).
        """
        collection = self.sides[target]
        target_id = pair.id(target) if pair is not None else None
        version = pair.version(target) if pair is not None else None
        if target_id is not None and version is not None:
            try:
                ref = collection.put(target_id, entry.item, if_match=version, raw=entry.raw)
            except NotFoundError:
                pass  # deleted there meanwhile: the edit wins, re-create it
            else:
                self._written[target][ref.id] = ref.version
                if ref.id != target_id:  # a new id (an IMAP message's content changed)
                    self._written[target][target_id] = None
                return ref, False
        ref = collection.create(entry.item, raw=entry.raw)
        self._written[target][ref.id] = ref.version
        return ref, True

    def _resolve_against(
        self,
        pair: Pair,
        source: Side,
        entry: Entry[Any],
        target_id: str,
        report: SyncReport,
        *,
        known: bool = True,
    ) -> None:
        """Resolve ``entry`` (from ``source``) against the target's current item."""
        theirs = self.sides[source.other].get_one(target_id)
        local, remote = (entry, theirs) if source is Side.LOCAL else (theirs, entry)
        self._resolve(pair, local, remote, report, known=known)

    def _paired_new(self, source: Side, seen: _Seen, entry: Entry[Any], report: SyncReport) -> bool:
        """For an item new on ``source``: if it matches an item new on the other side,
        pair them (resolving a difference as a conflict) and say so."""
        other = source.other
        match = self._match(other, seen)
        if match is None:
            return False
        pair = Pair(None, None, None, None, match.hash, seen.uid or match.uid)
        pair.set(source, seen.id, seen.version)
        pair.set(other, match.id, match.version)
        if match.hash == seen.hash:
            self.status.save(pair)
            report.unchanged += 1
        else:
            self._resolve_against(pair, source, entry, match.id, report, known=False)
        return True

    def _match(self, side: Side, seen: _Seen) -> _Seen | None:
        index = self._matches[side]
        match: _Seen | None
        if seen.uid is not None and ("uid", seen.uid) in index:
            match = index.pop(("uid", seen.uid))
        else:
            match = index.pop(("hash", seen.hash), None)
        if match is not None:  # drop the other key of the same item
            for key in (("uid", match.uid), ("hash", match.hash)):
                if index.get(key) is match:
                    del index[key]
        return match

    def _index_new_on_both_sides(self, plan: Plan) -> Side | None:
        """When both sides have new items (a first sync of two full collections), fetch
        the smaller set once and index it by UID and content, so that the other side's
        new items are matched instead of duplicated; return the indexed side. (The
        index is held in memory: a small record per new item of the smaller side.)"""
        creates = {side: plan.count(ActionKind.CREATE, side.other) for side in Side}
        if not all(creates.values()):
            return None
        smaller = min(Side, key=lambda side: creates[side])
        ids = (a.id for a in plan.actions.group(ActionKind.CREATE, smaller) if a.id)
        index: dict[Any, _Seen] = {}
        for entry in self._fetch(smaller, ids):
            seen = _seen(entry)
            if seen.uid is not None:
                index.setdefault(("uid", seen.uid), seen)
            index.setdefault(("hash", seen.hash), seen)
        self._matches[smaller] = index
        self._indexed = smaller
        return smaller

    def _delete(self, action: Action, report: SyncReport) -> None:
        pair = action.pair
        assert pair is not None
        target = action.target
        if action.kind is ActionKind.FORGET or target is None:
            self.status.drop(pair)
            return
        target_id, version = pair.id(target), pair.version(target)
        if target_id is None:
            self.status.drop(pair)
            return
        collection = self.sides[target]
        try:
            if version is None:
                raise ConflictError("no known version to delete against", id=target_id)
            collection.delete(target_id, if_match=version)
            self._written[target][target_id] = None
        except NotFoundError:  # gone already: nothing was deleted
            self.status.drop(pair)
            return
        except ConflictError:  # changed there meanwhile: the edit wins, bring it back
            entry = collection.get_one(target_id)
            seen = _seen(entry)
            pair.set(target, seen.id, seen.version)
            pair.set(target.other, None, None)
            ref, _ = self._write(target.other, None, entry)
            pair.set(target.other, ref.id, ref.version)
            pair.hash, pair.uid = seen.hash, seen.uid
            self.status.save(pair)
            report.created[target.other] += 1
            return
        self.status.drop(pair)
        report.deleted[target] += 1

    def _conflicts(self, batch: Sequence[Action], report: SyncReport) -> None:
        local = {e.id: e for e in self._fetch(Side.LOCAL, [a.id for a in batch if a.id])}
        for action in batch:
            pair = action.pair
            assert pair is not None
            mine = local.get(action.id or "")

            def resolve(pair: Pair = pair, mine: Entry[Any] | None = mine) -> None:
                remote_id = pair.remote_id
                if mine is None or remote_id is None:
                    return  # deleted meanwhile: the next run sees a delete against an edit
                theirs = self.sides[Side.REMOTE].get_one(remote_id)
                self._resolve(pair, mine, theirs, report)

            self._guarded(report, action, resolve)

    def _resolve(
        self,
        pair: Pair,
        local: Entry[Any],
        remote: Entry[Any],
        report: SyncReport,
        *,
        known: bool = True,
    ) -> None:
        """Both sides hold ``pair``'s item, maybe with different contents: apply the
        policy. ``known``: ``pair.hash`` is the content both sides last agreed on (not so
        for two items that just met), so a side still holding it did not really change."""
        mine, theirs = _seen(local), _seen(remote)
        if mine.hash == theirs.hash:
            pair.set(Side.LOCAL, mine.id, mine.version)
            pair.set(Side.REMOTE, theirs.id, theirs.version)
            pair.hash = mine.hash
            self.status.save(pair)
            report.unchanged += 1
            return
        if known and pair.hash in (mine.hash, theirs.hash):  # one side's version only moved
            pair.set(Side.LOCAL, mine.id, mine.version)
            pair.set(Side.REMOTE, theirs.id, theirs.version)
            source = Side.REMOTE if mine.hash == pair.hash else Side.LOCAL
            self._update(pair, source, local if source is Side.LOCAL else remote, report)
            return
        report.conflicts += 1
        winner = self.status.decision(pair) or self._winner(local.item, remote.item)
        if winner is None:  # ask: leave both, queue the question
            self.status.keep(Kept(KeptReason.QUESTION, Side.LOCAL, mine.id, mine.version,
                                  local.item, local.raw, other_id=theirs.id))  # fmt: skip
            report.unresolved += 1
            return
        loser = winner.other
        win, lose = (local, remote) if winner is Side.LOCAL else (remote, local)
        pair.set(Side.LOCAL, mine.id, mine.version)
        pair.set(Side.REMOTE, theirs.id, theirs.version)
        if self.policy is ConflictPolicy.KEEP_BOTH or loser is Side.REMOTE:
            reason = (
                KeptReason.CONFLICT
                if self.policy is ConflictPolicy.KEEP_BOTH
                else (KeptReason.REPLACED)
            )
            self.status.keep(Kept(reason, loser, lose.id, lose.version, lose.item, lose.raw,
                                  other_id=win.id))  # fmt: skip
        ref, created = self._write(loser, pair, win)
        pair.set(loser, ref.id, ref.version)
        pair.hash = _seen(win).hash
        self.status.save(pair)
        (report.created if created else report.updated)[loser] += 1

    def _update(self, pair: Pair, source: Side, entry: Entry[Any], report: SyncReport) -> None:
        """Carry ``source``'s changed item over to the other side, whose own version
        moved without a content change (where the direction allows it)."""
        target = source.other
        seen = _seen(entry)
        if not self._allowed(Action(ActionKind.UPDATE, source, target, seen.id)):
            return  # the change stays where it is; the next run reports it as skipped
        ref, created = self._write(target, pair, entry)
        pair.set(source, seen.id, seen.version)
        pair.set(target, ref.id, ref.version)
        pair.hash = seen.hash
        self.status.save(pair)
        (report.created if created else report.updated)[target] += 1

    def _winner(self, local: Item, remote: Item) -> Side | None:
        """The side whose version wins a conflict; ``None``: ask the user."""
        forced = {Direction.DOWNLOAD: Side.REMOTE, Direction.UPLOAD: Side.LOCAL}
        if self.direction in forced:
            return forced[self.direction]
        match self.policy:
            case ConflictPolicy.ASK:
                return None
            case ConflictPolicy.LOCAL_WINS:
                return Side.LOCAL
            case ConflictPolicy.NEWEST_WINS:
                mine = getattr(local, "last_modified", None)
                theirs = getattr(remote, "last_modified", None)
                if mine is not None and theirs is not None and mine > theirs:
                    return Side.LOCAL
                return Side.REMOTE
            case _:  # server wins, keep both (the server's version stays in place)
                return Side.REMOTE

    # -- helpers -------------------------------------------------------------------

    def _fetch(self, side: Side, ids: Iterable[str]) -> Iterator[Entry[Any]]:
        return self.sides[side].get(ids)  # batched (and maybe prefetched) by the collection

    def _emit(self, phase: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(Progress(phase, done, total))


def _pair_action(pair: Pair, changed: AbstractSet[Side], deleted: AbstractSet[Side]) -> Action:
    """The action for a known pair, from which sides changed and which deleted it."""
    if len(deleted) == 2:
        return Action(ActionKind.FORGET, None, None, pair.local_id, pair)
    if len(changed) == 2:
        return Action(ActionKind.CONFLICT, None, None, pair.local_id, pair)
    if changed and deleted:  # an edit against a delete: the edit wins
        (side,) = changed
        return Action(ActionKind.RESTORE, side, side.other, pair.id(side), pair)
    if changed:
        (side,) = changed
        return Action(ActionKind.UPDATE, side, side.other, pair.id(side), pair)
    (side,) = deleted
    return Action(ActionKind.DELETE, side, side.other, pair.id(side), pair)


def _with_extras(entry: Entry[Any], extras: tuple[RawProperty, ...]) -> Entry[Any]:
    """``entry`` with the local ``X-`` properties its item lacks (a server that drops
    them must not make the local side lose them). The pair records the merged item's
    hash, so the merge is no change to sync back; the next local edit takes them along."""
    item = entry.item
    have = {p.name.upper() for p in item.extended.properties}
    missing = tuple(p for p in extras if p.name.upper() not in have)
    if not missing:
        return entry
    extended = attrs.evolve(item.extended, properties=item.extended.properties + missing)
    # raw no longer holds this item: the target serializes it afresh
    return Entry(entry.id, entry.version, attrs.evolve(item, extended=extended))


def _seen(entry: Entry[Any]) -> _Seen:
    uid = entry.item.uid
    return _Seen(
        entry.id,
        entry.version,
        _identity(entry.item) if not isinstance(uid, str) else uid,
        content_hash(entry.item),
    )


def _identity(item: Item) -> str | None:
    """An identity for items without a string UID (mail: the Message-ID)."""
    envelope = getattr(item, "envelope", None)
    message_id = getattr(envelope, "message_id", None)
    return message_id if isinstance(message_id, str) else None


def _batches(items: Sequence[Any] | Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
