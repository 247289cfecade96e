// spec 6 check 7: replay the entries along seq with the state they build up, and hold
// each custody rule against that state. One method per rule; state is folded here only.

import { COURT_ROLES } from "./entry.js";

const CHECK = "replay";

class ExhibitState {
  constructor() {
    this.owner = null;
    this.shares = new Set();
    this.ingested = null; // data of the first exhibit.ingested
    this.sealed = false;
    this.disposed = false;
    this.holds = new Map(); // seq of exhibit.hold_set -> {jurisdiction, byJudge, open}
  }

  /** Whether `jurisdiction` may read the exhibit now: it owns it or holds a share. */
  readableBy(jurisdiction) {
    return jurisdiction === this.owner || this.shares.has(jurisdiction);
  }

  openHolds() {
    return [...this.holds.entries()].filter(([, hold]) => hold.open).map(([seq]) => seq);
  }
}

export class Replay {
  constructor(rec) {
    this.rec = rec;
    this.parties = new Set();
    this.proposals = new Map(); // seq of case.party_proposed -> {jurisdiction, parties, consents}
    this.grants = new Map(); // "jurisdiction\nsub\nrole" -> list of exhibit lists (null: all)
    this.exhibits = new Map();
    this.policy = null; // text of the newest case.policy_set
    this.policySeq = null;
  }

  state(exhibit) {
    let found = this.exhibits.get(exhibit);
    if (found === undefined) {
      found = new ExhibitState();
      this.exhibits.set(exhibit, found);
    }
    return found;
  }

  fail(entry, message) {
    this.rec.fail(CHECK, message, entry.seq);
  }

  apply(entry) {
    const handler = CASE_EVENTS[entry.type];
    if (handler !== undefined) {
      handler.call(this, entry, entry.data);
      return;
    }
    if (entry.exhibit === null) return;
    const state = this.state(entry.exhibit);
    // spec 6.7: no event follows exhibit.disposed for that exhibit.
    if (state.disposed) this.fail(entry, `${entry.type} on exhibit ${entry.exhibit} after it was disposed`);
    const exhibitHandler = EXHIBIT_EVENTS[entry.type];
    if (exhibitHandler !== undefined) exhibitHandler.call(this, entry, entry.data, state);
  }

  // --- case events --------------------------------------------------------------------

  created(entry, data) {
    if (this.parties.size === 0) for (const party of data.parties) this.parties.add(party);
  }

  proposed(entry, data) {
    // spec 2.1: the proposal is this entry's seq; "a party's prosecutor proposes", and the
    // proposer's state consents by proposing.
    this.proposals.set(entry.seq, {
      jurisdiction: data.jurisdiction,
      parties: new Set(this.parties),
      consents: new Set(consents(entry) ? [entry.actor.jurisdiction] : []),
    });
  }

  approved(entry, data) {
    const proposal = this.proposals.get(data.proposal);
    if (proposal !== undefined && consents(entry)) proposal.consents.add(entry.actor.jurisdiction);
  }

  /** spec 6.7: a party_added names a proposal every then-party state consented to. */
  added(entry, data) {
    const proposal = this.proposals.get(data.proposal);
    if (proposal === undefined) {
      this.fail(entry, `case.party_added of ${data.jurisdiction} names proposal ${data.proposal}, which is no open case.party_proposed`);
    } else if (proposal.jurisdiction !== data.jurisdiction) {
      this.fail(entry, `case.party_added of ${data.jurisdiction} names proposal ${data.proposal}, which proposed ${proposal.jurisdiction}`);
    } else {
      const missing = [...proposal.parties].filter((party) => !proposal.consents.has(party)).sort();
      if (missing.length) {
        this.fail(entry, `${data.jurisdiction} added without the consent of ${missing.join(", ")} (parties when proposal ${data.proposal} was made)`);
      }
      // spec 2.1: the addition is appended with the last consent and ends the proposal;
      // a second addition on it rests on no open proposal.
      this.proposals.delete(data.proposal);
    }
    this.parties.add(data.jurisdiction);
  }

  /** spec 6.7: a state withdraws itself; no state removes another. spec 2.1: a case keeps at least one party. */
  removed(entry, data) {
    if (entry.actor.jurisdiction !== data.jurisdiction) {
      this.fail(entry, `case.party_removed of ${data.jurisdiction} by ${entry.actor.jurisdiction}: only the withdrawing state may remove itself`);
    } else if ([...this.parties].every((party) => party === data.jurisdiction)) {
      this.fail(entry, `${data.jurisdiction} withdrew as the last party: a case keeps at least one party`);
    }
    this.parties.delete(data.jurisdiction);
  }

  /** spec 6.7: a state grants access to its own courts and defence only. */
  granted(entry, data) {
    if (data.jurisdiction !== entry.actor.jurisdiction) {
      this.fail(entry, `case.access_granted for ${data.jurisdiction} by ${entry.actor.jurisdiction}: a state grants access for its own jurisdiction only`);
      return; // an unlawful grant is no basis for access
    }
    const key = grantKey(data.jurisdiction, data.sub, data.role);
    const list = this.grants.get(key) || [];
    list.push(data.exhibits === null ? null : new Set(data.exhibits));
    this.grants.set(key, list);
  }

  revoked(entry, data) {
    this.grants.delete(grantKey(data.jurisdiction, data.sub, data.role));
  }

  policySet(entry, data) {
    this.policy = data.policy;
    this.policySeq = entry.seq;
  }

  // --- exhibit events -----------------------------------------------------------------

  registered(entry, data, state) {
    if (state.owner === null) state.owner = data.owner;
  }

  /** spec 6.7: at most one ingest, never after sealing (content never changes). */
  ingested(entry, data, state) {
    if (state.ingested !== null) this.fail(entry, `exhibit ${entry.exhibit} ingested a second time (content must never change)`);
    if (state.sealed) this.fail(entry, `exhibit ${entry.exhibit} ingested after it was sealed`);
    if (state.ingested === null) state.ingested = data;
  }

  sealed(entry, data, state) {
    state.sealed = true;
  }

  shared(entry, data, state) {
    state.shares.add(data.jurisdiction);
  }

  shareRevoked(entry, data, state) {
    state.shares.delete(data.jurisdiction);
  }

  holdSet(entry, data, state) {
    state.holds.set(entry.seq, { jurisdiction: entry.actor.jurisdiction, byJudge: entry.actor.role === "judge", open: true });
  }

  /** spec 6.7: a release ends an open hold, by the state that set it; a judge's by a judge. */
  holdReleased(entry, data, state) {
    const hold = state.holds.get(data.hold);
    if (hold === undefined || !hold.open) {
      this.fail(entry, `exhibit ${entry.exhibit}: release of hold ${data.hold}, which is no open hold on this exhibit`);
      return;
    }
    if (entry.actor.jurisdiction !== hold.jurisdiction) {
      this.fail(entry, `exhibit ${entry.exhibit}: hold ${data.hold} set by ${hold.jurisdiction} released by ${entry.actor.jurisdiction}`);
    }
    if (hold.byJudge && entry.actor.role !== "judge") {
      this.fail(entry, `exhibit ${entry.exhibit}: hold ${data.hold} set by a judge released by a ${entry.actor.role}`);
    }
    hold.open = false;
  }

  /** spec 6.7: no disposal while a hold is open. */
  disposed(entry, data, state) {
    const open = state.openHolds();
    if (open.length) this.fail(entry, `exhibit ${entry.exhibit} disposed while hold ${open.join(", ")} is open`);
    state.disposed = true;
  }

  /** spec 6.7: access rests on ownership or a share; a court role's also on a grant. */
  accessed(entry, data, state) {
    const actor = entry.actor;
    if (!COURT_ROLES.has(actor.role)) {
      if (!state.readableBy(actor.jurisdiction)) {
        this.fail(
          entry,
          `exhibit ${entry.exhibit} accessed by ${actor.jurisdiction}/${actor.sub} (${actor.role}), whose state neither owned it nor held an unrevoked share of it`,
        );
      }
      return;
    }
    const grants = this.grants.get(grantKey(actor.jurisdiction, actor.sub, actor.role)) || [];
    if (!grants.length) {
      this.fail(entry, `exhibit ${entry.exhibit} accessed by ${actor.jurisdiction}/${actor.sub} (${actor.role}) without an unrevoked case.access_granted`);
    } else if (!state.readableBy(actor.jurisdiction)) {
      this.fail(
        entry,
        `exhibit ${entry.exhibit} accessed by ${actor.jurisdiction}/${actor.sub} (${actor.role}): the granting state ${actor.jurisdiction} neither owned it nor held an unrevoked share of it`,
      );
    } else if (!grants.some((exhibits) => exhibits === null || exhibits.has(entry.exhibit))) {
      this.fail(entry, `exhibit ${entry.exhibit} accessed by ${actor.jurisdiction}/${actor.sub} (${actor.role}): no grant lists this exhibit`);
    }
  }

  verified(entry, data) {
    if (data.ok === false) {
      this.rec.warn(CHECK, `exhibit ${entry.exhibit}: re-verification found storage altered at this point`, entry.seq);
    }
  }
}

/** spec 2.1: a state proposes and consents through its prosecutor; other roles' entries are no consent. */
function consents(entry) {
  return entry.actor.role === "prosecutor";
}

function grantKey(jurisdiction, sub, role) {
  return `${jurisdiction}\n${sub}\n${role}`;
}

const P = Replay.prototype;
const CASE_EVENTS = {
  "case.created": P.created,
  "case.party_proposed": P.proposed,
  "case.party_approved": P.approved,
  "case.party_added": P.added,
  "case.party_removed": P.removed,
  "case.access_granted": P.granted,
  "case.access_revoked": P.revoked,
  "case.policy_set": P.policySet,
};
const EXHIBIT_EVENTS = {
  "exhibit.registered": P.registered,
  "exhibit.ingested": P.ingested,
  "exhibit.sealed": P.sealed,
  "exhibit.shared": P.shared,
  "exhibit.share_revoked": P.shareRevoked,
  "exhibit.hold_set": P.holdSet,
  "exhibit.hold_released": P.holdReleased,
  "exhibit.disposed": P.disposed,
  "exhibit.accessed": P.accessed,
  "exhibit.verified": P.verified,
};
