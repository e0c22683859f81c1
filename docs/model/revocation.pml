/*
 * The revocation protocol of the PostgreSQL backend, as a Promela model.
 *
 * Safety property: once the revoking node has answered the logout, no check that
 * starts afterwards, on either caching node, finds the session valid, from the cache or
 * from the database (the assertions in Node).
 *
 * What is modelled and what is abstracted, and how the state space is bounded:
 * docs/model/README.md. Each step names the code it stands for; paths are relative to
 * crates/adieu-store/src/.
 *
 * Mutants, each of which must fail (spin -DMUTANT_X -a revocation.pml):
 *   NO_ACK_WAIT                the revoking node answers right after its commit
 *   LEASE_FROM_RECEIPT         the serving window runs from when the heartbeat is heard
 *   REFILL_WITHOUT_GENERATION  a database read is cached whatever evictions happened
 *   KEEP_CACHE_ON_LAPSE        a lapsed window (listener lost, window run out) keeps
 *                              the entries it had
 */

#ifndef LEASE
#define LEASE 2        /* Cluster::lease, in clock ticks (the least that tells send from receipt) */
#endif
#define N 2            /* caching nodes; the revoking node is a third */
/* Which caching nodes may lose their listener or leave: node 0 only, unless
 * -DBOTH_LOSE (see README.md, "Bounds"). */
#ifdef BOTH_LOSE
#define LOSES(i) true
#else
#define LOSES(i) (i == 0)
#endif
#define Q 2            /* notifications waiting on one listener, at most */

/* Time is one global clock that ticks for ever. Every time the model keeps is stored as
 * the number of ticks until it comes, 0 once it has passed: the serving window's end
 * (win), a lease (lease), a waiting deadline (dl), and a heartbeat's send time plus the
 * lease. A tick counts them all down. So the state space is finite with no bound on
 * time or on heartbeats. */

/* The listener connection (cluster.rs listen): LIVE delivers; DEAD is lost and not yet
 * noticed by the node; DOWN is noticed, reconnecting; GONE after Cluster::leave. */
#define LIVE 0
#define DEAD 1
#define DOWN 2
#define GONE 3

/* Notifications on a caching node's connection. Other nodes' heartbeats and all Acks are
 * ignored by a caching node (Cluster::handle), so they are left off it. */
#define REVOKE 1
#define HEARTBEAT 2

/* cache.rs Serving (no Always: that is the lone SQLite node). */
#define NEVER 0
#define UNTIL 1

/* A heartbeat in cluster.rs renew / heartbeat. */
#define HB_IDLE 0
#define HB_BEGUN 1     /* sent: its transaction has started */

/* ---- the database ---- */
bool db_revoked;               /* sessions.revoked_at of the one session */
byte lease[N];                 /* adieu_nodes.lease_until, as ticks from now */
/* Each caching node's listener: notifications in commit order, only those committed
 * while it is connected. qr is, for a heartbeat, its send time plus the lease, as ticks
 * from now (the node finds the send time by sequence number in Cluster::heartbeats). */
byte qk[N * Q];
byte qr[N * Q];
byte qlen[N];
byte conn[N];

/* ---- each caching node ---- */
byte mode[N];                  /* TokenCache state.serving: NEVER, or UNTIL(win) */
byte win[N];
/* TokenCache state.generation, counted from the value the database read in flight took:
 * 0 when it takes it, 1 once anything has bumped it (insert only asks "equal?"). */
bit gen[N];
bool cached[N];                /* the session's token is in TokenCache state.entries */
byte hb[N];                    /* the heartbeat under way */
byte hb_win[N];                /* its send time + lease (= its now() + lease) */
bool ack_pending[N];           /* Cluster::acknowledge spawned, not yet notified */
bool ack_sent[N];              /* the Ack is notified */
byte leaving[N];               /* Cluster::leave: 0 no, 1 stopped and lapsed, 2 released */
/* A check that went to the database (storage.rs Storage::load), one per node at a time. */
bool ld[N];
bool ld_revoked[N];            /* what the row said */

/* ---- the revoking node ---- */
bool committed;
bool answered;
bool waited[N];
bool acked[N];
byte dl[N];                    /* its deadline for each node, as ticks from now */

byte k;                        /* a loop index, always 0 between steps */

#define serving(i) (mode[i] == UNTIL && win[i] > 0)

/* A generation bump (State::clear, TokenCache::evict_sessions): only a read in flight
 * can tell. */
#define bump(i) if :: ld[i] -> gen[i] = 1 :: else -> skip fi

/* cache.rs State::clear: forget everything, bump the generation. */
#ifndef MUTANT_KEEP_CACHE_ON_LAPSE
#define clear(i) bump(i); cached[i] = false
#else
#define clear(i) bump(i)
#endif

/* cache.rs TokenCache::lapse. */
#define lapse(i) mode[i] = NEVER; win[i] = 0; clear(i)

/* cache.rs TokenCache::extend(now + t): if the window had lapsed, clear first. */
#define extend(i, t) \
	if \
	:: !serving(i) -> clear(i); mode[i] = UNTIL; win[i] = t \
	:: else -> if :: t > win[i] -> win[i] = t :: else -> skip fi \
	fi

inline push(i, kind, rem) {
	qk[i * Q + qlen[i]] = kind;
	qr[i * Q + qlen[i]] = rem;
	qlen[i]++
}

inline flush(i) {
	for (k : 0 .. Q - 1) { qk[i * Q + k] = 0; qr[i * Q + k] = 0 }
	qlen[i] = 0; k = 0
}

#define down(x) if :: x > 0 -> x-- :: else -> skip fi

/* One clock tick: every time still to come is one tick nearer. */
proctype Clock() {
end:	do
	:: d_step {
		for (k : 0 .. N - 1) {
			down(win[k]); down(hb_win[k]);
			down(lease[k]); down(dl[k])
		}
		for (k : 0 .. N * Q - 1) { down(qr[k]) }
		k = 0
	}
	od
}

proctype Node(byte i) {
	byte kind, rem;
end:	do
	/* A check answered from memory (service sessions.rs Sessions::check ->
	 * storage.rs Storage::token -> cache.rs TokenCache::get, a hit): valid. */
	:: atomic { serving(i) && cached[i] ->
		assert(!answered)
	}
	/* A check that misses (TokenCache::get; outside the window it forgets everything,
	 * once), then storage.rs Storage::load: TokenCache::generation, and Store::token,
	 * one SELECT, which sees what has committed. */
	:: atomic { !ld[i] && !(serving(i) && cached[i]) ->
		if
		:: mode[i] == UNTIL && win[i] == 0 -> mode[i] = NEVER; clear(i)
		:: else -> skip
		fi;
		/* After the answer a read finds the session revoked, caches nothing and
		 * answers invalid: the model stops there (the assertion below checks it for
		 * every read that started earlier). */
		if
		:: !answered ->
			ld[i] = true;
			gen[i] = 0;
			ld_revoked[i] = db_revoked
		:: else -> assert(db_revoked)
		fi
	}
	/* storage.rs Storage::load -> cache.rs TokenCache::insert: cached only if the
	 * session is not revoked, the generation has not moved and the cache is serving.
	 * The check answers valid if the row says the session is live. */
	:: atomic { ld[i] ->
		if
#ifndef MUTANT_REFILL_WITHOUT_GENERATION
		:: !ld_revoked[i] && gen[i] == 0 && serving(i) -> cached[i] = true
#else
		:: !ld_revoked[i] && serving(i) -> cached[i] = true
#endif
		:: else -> skip
		fi;
		ld[i] = false; gen[i] = 0; ld_revoked[i] = false
	}

	/* cluster.rs listen -> Cluster::handle: the next notification, in commit order. */
	:: atomic { conn[i] == LIVE && qlen[i] > 0 ->
		kind = qk[i * Q]; rem = qr[i * Q];
		for (k : 0 .. Q - 2) {
			qk[i * Q + k] = qk[i * Q + k + 1]; qr[i * Q + k] = qr[i * Q + k + 1]
		}
		qk[i * Q + Q - 1] = 0; qr[i * Q + Q - 1] = 0; k = 0;
		qlen[i]--;
		if
		/* Message::Revoke: TokenCache::evict_sessions, then (the last chunk, from
		 * another node) spawn Cluster::acknowledge. */
		:: kind == REVOKE ->
			bump(i); cached[i] = false;
			ack_pending[i] = !answered
		/* Message::Heartbeat of this node: TokenCache::extend(sent + lease). */
		:: kind == HEARTBEAT ->
#ifndef MUTANT_LEASE_FROM_RECEIPT
			extend(i, rem)
#else
			extend(i, LEASE)
#endif
		fi;
		kind = 0; rem = 0
	}
	/* cluster.rs Cluster::acknowledge: Message::Ack notified on the control pool. */
	:: atomic { ack_pending[i] ->
		ack_pending[i] = false;
		ack_sent[i] = !answered
	}

	/* The listener's connection is lost (pg_terminate_backend, network): what it had
	 * not delivered is gone, and nothing more reaches it. */
	:: atomic { conn[i] == LIVE && LOSES(i) ->
		conn[i] = DEAD;
		flush(i)
	}
	/* cluster.rs listen: try_recv says so -> Cluster::lost_listener: listener_up is
	 * false, TokenCache::lapse. */
	:: atomic { conn[i] == DEAD ->
		conn[i] = DOWN;
		lapse(i)
	}
	/* cluster.rs listen: PgListener::connect_with, listen(CHANNEL), listener_up. */
	:: atomic { conn[i] == DOWN ->
		conn[i] = LIVE
	}

	/* cluster.rs renew: a tick while listener_up: the send time (Instant::now()) goes
	 * into Cluster::heartbeats; then cluster.rs heartbeat begins its transaction, whose
	 * now() the UPDATE uses. The model takes both at the same tick: the send time is
	 * the latest the code could record, so the window the longest it could compute. */
	:: atomic { (conn[i] == LIVE || conn[i] == DEAD) && hb[i] == HB_IDLE ->
		hb_win[i] = LEASE;
		hb[i] = HB_BEGUN
	}
	/* cluster.rs heartbeat: commit: lease_until = now() + lease, and the heartbeat goes,
	 * in commit order, to this node's listener if connected. */
	:: atomic { hb[i] == HB_BEGUN && (conn[i] != LIVE || qlen[i] < Q) ->
		if :: !answered -> lease[i] = hb_win[i] :: else -> skip fi;
		if :: conn[i] == LIVE -> push(i, HEARTBEAT, hb_win[i]) :: else -> skip fi;
		hb[i] = HB_IDLE; hb_win[i] = 0
	}

	/* cluster.rs Cluster::leave (graceful shutdown): Cluster::stop ends the listener and
	 * the renewal, TokenCache::lapse; then UPDATE adieu_nodes SET lease_until = now(). */
	:: atomic { leaving[i] == 0 && LOSES(i) && hb[i] == HB_IDLE ->
		conn[i] = GONE;
		flush(i);
		lapse(i);
		leaving[i] = 1
	}
	:: atomic { leaving[i] == 1 ->
		lease[i] = 0;
		leaving[i] = 2
	}
	od
}

proctype Revoker() {
	/* store.rs Store::revoke_session: UPDATE sessions (backend.rs Backend::revoke_in),
	 * cluster.rs Cluster::publish's pg_notify inside the transaction, commit: the
	 * notification reaches each listener connected at the commit. */
	atomic {
		(conn[0] != LIVE || qlen[0] < Q) && (conn[1] != LIVE || qlen[1] < Q) ->
		db_revoked = true;
		if :: conn[0] == LIVE -> push(0, REVOKE, 0) :: else -> skip fi;
		if :: conn[1] == LIVE -> push(1, REVOKE, 0) :: else -> skip fi;
		committed = true
	}
#ifndef MUTANT_NO_ACK_WAIT
	/* cluster.rs Cluster::confirm: the other nodes with lease_until > now(), each with
	 * its deadline (counted from after the query, so no earlier than its lease). */
	atomic {
		waited[0] = lease[0] > 0; dl[0] = lease[0];
		waited[1] = lease[1] > 0; dl[1] = lease[1]
	}
	/* cluster.rs Cluster::confirm: until each has acknowledged (its Ack heard,
	 * Cluster::handle -> the waiter) or its deadline has passed. */
	do
	:: atomic { waited[0] && !acked[0] && ack_sent[0] -> acked[0] = true }
	:: atomic { waited[1] && !acked[1] && ack_sent[1] -> acked[1] = true }
	:: atomic {
		(!waited[0] || acked[0] || dl[0] == 0) &&
		(!waited[1] || acked[1] || dl[1] == 0) ->
		break
	}
	od;
#endif
	/* storage.rs revoke_then_evict: this node's own eviction, then the answer
	 * (Sessions::logout returns; 200). */
	atomic {
		answered = true;
		/* Nothing reads the leases and acknowledgements any more. */
		lease[0] = 0; lease[1] = 0;
		ack_sent[0] = false; ack_sent[1] = false;
		ack_pending[0] = false; ack_pending[1] = false;
		waited[0] = false; waited[1] = false;
		acked[0] = false; acked[1] = false;
		dl[0] = 0; dl[1] = 0
	}
}

/* cluster.rs Cluster::start: lease_until = now(), the cache leased and not serving
 * (cache.rs TokenCache::leased), the listener connected; the session is live. */
init {
	atomic {
		run Clock();
		run Node(0);
		run Node(1);
		run Revoker()
	}
}
