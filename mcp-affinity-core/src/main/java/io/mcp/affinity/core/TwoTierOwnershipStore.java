package io.mcp.affinity.core;

import java.time.Duration;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Supplier;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/**
 * An {@link OwnershipStore} in two tiers: an in-memory L1 in front of a shared L2 (Redis), written through.
 * <p>
 * The L1 treats the two kinds of entries differently:
 * <ul>
 * <li>sessions this instance owns live in L1 as long as their ownership (sliding), are never evicted for size, and
 * keep answering while the L2 is down; their L2 expiry is slid at most once per refresh interval, in the
 * background, so a hot session costs no L2 command per request;</li>
 * <li>sessions other instances own are cached for the shorter L1 time-to-live, bounded in number.</li>
 * </ul>
 * A slow L2 is not a down L2: a call that runs out of time fails that call alone. The store turns <em>degraded</em>
 * only on evidence of an outage: a call (or a {@linkplain #reportFailure reported} event) that found the L2
 * unreachable, or {@value #FAILURES_BEFORE_DEGRADED} failed calls in a row with no answer between them (a call that
 * failed though another was answered while it waited does not count: part of the L2 is slow or down, not all of it,
 * as when a Redis Cluster node is). While degraded,
 * claims for this instance succeed locally, and L2 calls fail fast but for one probe per back-off period, instead of
 * each waiting for a timeout. The first answer ends the outage, unless it is {@linkplain #setOutageOngoing known to go
 * on} (a Redis Cluster node still unreachable while others answer), and every local session is written to the L2 again
 * (possibly empty after a restart); {@link #republishLocalSessions()} does that on demand.
 */
public final class TwoTierOwnershipStore implements OwnershipStore {

	/** Default time sessions owned elsewhere are cached in L1. */
	public static final Duration DEFAULT_L1_TIME_TO_LIVE = Duration.ofMinutes(1);

	/** Default most sessions owned elsewhere cached in L1. */
	public static final long DEFAULT_L1_MAXIMUM_SIZE = 100_000;

	/** Default period between two L2 expiry refreshes of one local session. */
	public static final Duration DEFAULT_REFRESH_INTERVAL = Duration.ofMinutes(5);

	/** Default time after an outage during which a session unknown to the L2 is "unavailable", not "unknown". */
	public static final Duration DEFAULT_RECOVERY_WINDOW = Duration.ofSeconds(10);

	/** Default time L2 calls fail fast, while degraded, between two probes of the L2. */
	public static final Duration DEFAULT_L2_RETRY_BACKOFF = Duration.ofSeconds(1);

	/** Failed L2 calls in a row, with no answer between them, that are taken as an outage. */
	public static final int FAILURES_BEFORE_DEGRADED = 3;

	private static final Logger logger = LoggerFactory.getLogger(TwoTierOwnershipStore.class);

	private final String localEpoch;

	private final OwnershipStore l2;

	private final long refreshIntervalNanos;

	private final long retryBackoffNanos;

	private final Cache<String, Entry> l1;

	private final AtomicBoolean degraded = new AtomicBoolean();

	// While degraded: when the next probe of the L2 may go through (all other calls fail fast until then).
	private final AtomicLong l2RetryAt = new AtomicLong();

	private final AtomicInteger failuresInARow = new AtomicInteger();

	// When the L2 last answered a call (or was reported to).
	private volatile long lastAnswerNanos = System.nanoTime();

	private final LongAdder l1Hits = new LongAdder();

	private final LongAdder l2Hits = new LongAdder();

	private final LongAdder l2Misses = new LongAdder();

	private final LongAdder l2LookupErrors = new LongAdder();

	private final LongAdder l2Errors = new LongAdder();

	private final AtomicLong degradedNanos = new AtomicLong();

	private volatile long degradedSince;

	private volatile long recoveringUntil;

	private long recoveryWindowNanos = DEFAULT_RECOVERY_WINDOW.toNanos();

	private Function<SessionId, Mono<Void>> invalidationPublisher = (sessionId) -> Mono.empty();

	private BooleanSupplier outageOngoing = () -> false;

	/**
	 * Creates a store with the defaults, shortened where {@code timeToLive} needs it.
	 * @param localEpoch the epoch of this instance: its entries are the local ones
	 * @param l2 the shared store
	 * @param timeToLive ownership time-to-live, as configured on the L2
	 */
	public TwoTierOwnershipStore(String localEpoch, OwnershipStore l2, Duration timeToLive) {
		this(localEpoch, l2, timeToLive, min(DEFAULT_L1_TIME_TO_LIVE, timeToLive.dividedBy(2)), DEFAULT_L1_MAXIMUM_SIZE,
				min(DEFAULT_REFRESH_INTERVAL, timeToLive.dividedBy(4)), DEFAULT_L2_RETRY_BACKOFF);
	}

	/**
	 * Creates a store.
	 * @param localEpoch the epoch of this instance: its entries are the local ones
	 * @param l2 the shared store
	 * @param timeToLive ownership time-to-live, as configured on the L2; local L1 entries live as long after last use
	 * @param l1TimeToLive how long an entry owned elsewhere is cached; shorter than {@code timeToLive}
	 * @param l1MaximumSize the most entries owned elsewhere cached at once
	 * @param refreshInterval the least time between two L2 expiry refreshes of one local session; shorter than
	 * {@code timeToLive}
	 * @param l2RetryBackoff how long L2 calls fail fast after an L2 failure
	 */
	public TwoTierOwnershipStore(String localEpoch, OwnershipStore l2, Duration timeToLive, Duration l1TimeToLive,
			long l1MaximumSize, Duration refreshInterval, Duration l2RetryBackoff) {
		this.localEpoch = Objects.requireNonNull(localEpoch, "localEpoch must not be null");
		this.l2 = Objects.requireNonNull(l2, "l2 must not be null");
		if (l1TimeToLive.compareTo(timeToLive) >= 0) {
			throw new IllegalArgumentException(
					"L1 time-to-live (" + l1TimeToLive + ") must be shorter than the ownership time-to-live (" + timeToLive + ")");
		}
		if (refreshInterval.compareTo(timeToLive) >= 0) {
			throw new IllegalArgumentException(
					"Refresh interval (" + refreshInterval + ") must be shorter than the ownership time-to-live (" + timeToLive + ")");
		}
		this.refreshIntervalNanos = refreshInterval.toNanos();
		this.retryBackoffNanos = l2RetryBackoff.toNanos();
		this.l1 = Caffeine.newBuilder()
			.expireAfter(new TierExpiry(timeToLive.toNanos(), l1TimeToLive.toNanos()))
			// Local entries weigh nothing: size-based eviction must never drop a session this instance serves.
			.maximumWeight(l1MaximumSize)
			.weigher((String id, Entry entry) -> (entry.local && !entry.released) ? 0 : 1)
			.build();
	}

	private static Duration min(Duration a, Duration b) {
		return (a.compareTo(b) <= 0) ? a : b;
	}

	@Override
	public Mono<String> claim(SessionId sessionId, String ownerEpoch) {
		return callL2(() -> this.l2.claim(sessionId, ownerEpoch))
			.doOnNext((winner) -> remember(sessionId, winner, System.nanoTime()))
			.onErrorResume(OwnershipStoreUnavailableException.class, (ex) -> {
				// Only in an outage is a session held here alone: when the L2 is merely slow, the caller learns that the
				// claim failed rather than handing out an id other instances cannot place.
				if (!ownerEpoch.equals(this.localEpoch) || !this.degraded.get()) {
					return Mono.error(ex);
				}
				// Held here; republishLocalSessions() writes it once the L2 is back.
				remember(sessionId, ownerEpoch, 0);
				return Mono.just(ownerEpoch);
			});
	}

	@Override
	public Mono<String> findOwner(SessionId sessionId) {
		Entry entry = this.l1.getIfPresent(sessionId.value());
		if (entry != null) {
			this.l1Hits.increment();
			return entry.released ? Mono.empty() : Mono.just(entry.owner);
		}
		return callL2(() -> this.l2.findOwner(sessionId)).doOnNext((owner) -> {
			this.l2Hits.increment();
			remember(sessionId, owner, System.nanoTime());
		}).switchIfEmpty(Mono.defer(() -> {
			if (System.nanoTime() - this.recoveringUntil < 0) {
				// Just after an outage the owner may not have republished yet: "unknown" would make the client drop
				// a live session, so it is asked to retry instead.
				return Mono.error(new OwnershipStoreUnavailableException(
						"Session not in the store yet; owners are republishing after an outage", null));
			}
			this.l2Misses.increment();
			return Mono.empty();
		})).doOnError((ex) -> this.l2LookupErrors.increment());
	}

	/**
	 * {@inheritDoc}
	 * <p>
	 * Answers from L1, counted as an L1 hit like {@link #findOwner}, except for ended sessions and for local ones
	 * whose L2 expiry is due for a refresh: those take {@link #findOwner} and {@link #refresh}.
	 */
	@Override
	public @Nullable String findOwnerInMemory(SessionId sessionId, String callerEpoch) {
		Entry entry = this.l1.getIfPresent(sessionId.value());
		if (entry == null || entry.released
				|| (entry.local && entry.owner.equals(callerEpoch) && refreshDue(entry, System.nanoTime()))) {
			return null;
		}
		this.l1Hits.increment();
		return entry.owner;
	}

	@Override
	public Mono<Void> refresh(SessionId sessionId, String ownerEpoch) {
		Entry entry = this.l1.getIfPresent(sessionId.value());
		if (entry == null || !entry.local || entry.released || !entry.owner.equals(ownerEpoch)) {
			// Only this instance's sessions are refreshed, and those are always in L1.
			return Mono.empty();
		}
		long now = System.nanoTime();
		if (refreshDue(entry, now)) {
			entry.l2RefreshedAt = now;
			// In the background: the request that triggered it must not wait for the L2.
			callL2(() -> this.l2.refresh(sessionId, ownerEpoch)).subscribe(null, (ex) -> entry.l2RefreshedAt = 0);
		}
		return Mono.empty();
	}

	private boolean refreshDue(Entry entry, long now) {
		return now - entry.l2RefreshedAt >= this.refreshIntervalNanos;
	}

	@Override
	public Mono<Boolean> release(SessionId sessionId, String ownerEpoch) {
		boolean local = ownerEpoch.equals(this.localEpoch);
		Entry entry = this.l1.getIfPresent(sessionId.value());
		boolean removedHere = entry != null && !entry.released && entry.owner.equals(ownerEpoch)
				&& this.l1.asMap().remove(sessionId.value(), entry);
		if (local) {
			// A tombstone: this instance answers "unknown" for the id even while the L2 still lists it.
			this.l1.put(sessionId.value(), Entry.released(ownerEpoch));
		}
		return callL2(() -> this.l2.release(sessionId, ownerEpoch))
			.flatMap((removed) -> removed ? this.invalidationPublisher.apply(sessionId).thenReturn(true)
					: Mono.just(false))
			.map((removed) -> removed || removedHere)
			.onErrorResume(OwnershipStoreUnavailableException.class,
					(ex) -> local ? Mono.just(removedHere) : Mono.error(ex));
	}

	/**
	 * Sets how other instances learn that a session's ownership ended here, so they drop their L1 copy (see
	 * {@link #evictFromL1(String)}); by default they are not told and their copy lives out its L1 time-to-live.
	 * @param invalidationPublisher called after an entry was removed from the L2
	 */
	public void setInvalidationPublisher(Function<SessionId, Mono<Void>> invalidationPublisher) {
		this.invalidationPublisher = Objects.requireNonNull(invalidationPublisher, "invalidationPublisher must not be null");
	}

	/**
	 * Drops the cached copy of a session another instance owned, because its ownership ended. Sessions this instance
	 * owns, and its tombstones, are not touched: this instance knows better.
	 * @param sessionId the raw session id
	 */
	public void evictFromL1(String sessionId) {
		this.l1.asMap().computeIfPresent(sessionId, (id, entry) -> entry.local ? entry : null);
	}

	/**
	 * Ends the ownership of every session this instance owns, on shutdown: other instances then answer 404 for them
	 * at once (and re-initialize the clients elsewhere) instead of timing out on a stopped instance.
	 * @return how many entries were released
	 */
	public Mono<Long> releaseLocalSessions() {
		return Flux.fromIterable(this.l1.asMap().entrySet())
			.filter((e) -> e.getValue().local && !e.getValue().released)
			.flatMap((e) -> release(SessionId.of(e.getKey()), e.getValue().owner).onErrorReturn(false), 16)
			.filter(Boolean::booleanValue)
			.count();
	}

	/**
	 * Writes every session this instance owns to the L2 again: after an L2 outage, or after the L2 lost its data.
	 * @return how many sessions were written
	 */
	public Mono<Long> republishLocalSessions() {
		this.l2RetryAt.set(0);
		this.failuresInARow.set(0);
		beginRecovery();
		return republishAll(!this.outageOngoing.getAsBoolean() && endOutage());
	}

	/**
	 * Counts an answer from the L2 seen outside this store's own calls (the registry's heartbeat, on the same Redis):
	 * while degraded, it ends the outage, which a store that answers everything from L1 would otherwise not notice.
	 */
	public void reportAnswer() {
		l2Answered();
	}

	/**
	 * Counts a failure seen outside this store's own calls, by the same rules: the registry's heartbeat (on the same
	 * Redis) that failed, or the Redis client reporting that it cannot reach Redis.
	 * @param failure what failed; an {@link OwnershipStoreUnavailableException} that is
	 * {@linkplain OwnershipStoreUnavailableException#isUnreachable() unreachable} degrades the store at once
	 */
	public void reportFailure(Throwable failure) {
		l2Failed((failure instanceof OwnershipStoreUnavailableException unavailable) ? unavailable
				: new OwnershipStoreUnavailableException(String.valueOf(failure.getMessage()), failure), System.nanoTime());
	}

	/**
	 * Asks the L2 once, now, whether it answers again, when degraded (not held back by the back-off): for whoever learns
	 * that an outage may be over (a Redis Cluster whose unreachable master's slots a replica took over), so it ends
	 * without waiting for a call or a heartbeat. Does nothing when not degraded.
	 */
	public void probe() {
		if (!this.degraded.get()) {
			return;
		}
		counted(() -> this.l2.findOwner(SessionId.of(UUID.randomUUID().toString())))
			.subscribe(null, (ex) -> logger.debug("Probing the store failed: {}", ex.toString()));
	}

	/**
	 * Sets what tells whether an outage still goes on though the L2 answers some calls: a Redis Cluster node that
	 * serves slots and cannot be reached, while the other nodes answer. An answer does not end an outage then; without
	 * that, each failure reported would start it again, and each answer end it with a republish of every local session.
	 * By default an answer always ends it.
	 * @param outageOngoing asked, while degraded, at each answer
	 */
	public void setOutageOngoing(BooleanSupplier outageOngoing) {
		this.outageOngoing = Objects.requireNonNull(outageOngoing, "outageOngoing must not be null");
	}

	/**
	 * Sets how long after an outage (or a store that lost its data) a session the L2 does not know is reported as
	 * unavailable rather than unknown: the time every live instance needs to reconnect and republish.
	 * @param recoveryWindow the window
	 */
	public void setRecoveryWindow(Duration recoveryWindow) {
		this.recoveryWindowNanos = recoveryWindow.toNanos();
	}

	private void beginRecovery() {
		this.recoveringUntil = System.nanoTime() + this.recoveryWindowNanos;
	}

	private Mono<Long> republishAll(boolean afterOutage) {
		return Flux.fromIterable(this.l1.asMap().entrySet())
			.filter((e) -> e.getValue().local && !e.getValue().released)
			.flatMap((e) -> republish(e.getKey(), e.getValue()), 16)
			.count()
			.doOnNext((count) -> {
				if (afterOutage) {
					logger.info("DistributedStoreRecovered republished={}", count);
				}
				else if (count > 0) {
					logger.info("DistributedStoreRepublished republished={}", count);
				}
			});
	}

	// Whether this call ended an outage (only one caller wins).
	private boolean endOutage() {
		if (this.degraded.compareAndSet(true, false)) {
			this.degradedNanos.addAndGet(System.nanoTime() - this.degradedSince);
			return true;
		}
		return false;
	}

	private Mono<String> republish(String id, Entry entry) {
		SessionId sessionId = SessionId.of(id);
		return this.l2.claim(sessionId, entry.owner).doOnNext((winner) -> {
			if (winner.equals(entry.owner)) {
				entry.l2RefreshedAt = System.nanoTime();
			}
			else {
				logger.warn("SessionClaimConflict session={}: another instance claimed it while the store was down",
						sessionId);
			}
		}).onErrorResume(OwnershipStoreUnavailableException.class, (ex) -> Mono.empty());
	}

	/** Whether the L2 is taken to be down (see the class description) and calls to it fail fast. */
	public boolean isDegraded() {
		return this.degraded.get();
	}

	/**
	 * Counters since start-up, for metrics.
	 * @return a snapshot
	 */
	public Statistics statistics() {
		long degradedTotal = this.degradedNanos.get();
		if (this.degraded.get()) {
			degradedTotal += System.nanoTime() - this.degradedSince;
		}
		return new Statistics(this.l1Hits.sum(), this.l2Hits.sum(), this.l2Misses.sum(), this.l2LookupErrors.sum(),
				this.l2Errors.sum(), Duration.ofNanos(degradedTotal));
	}

	/**
	 * Counters of a two-tier store since start-up.
	 *
	 * @param l1Hits look-ups answered by L1
	 * @param l2Hits look-ups L1 missed and the L2 answered with an owner
	 * @param l2Misses look-ups neither tier knew
	 * @param l2LookupErrors look-ups the L2 failed to answer
	 * @param l2Errors failed or skipped L2 calls of any kind (look-up, claim, refresh, release)
	 * @param degradedTime total time spent degraded
	 */
	public record Statistics(long l1Hits, long l2Hits, long l2Misses, long l2LookupErrors, long l2Errors,
			Duration degradedTime) {
	}

	/**
	 * How many sessions this instance owns, as held in L1. Counts by walking L1: meant for a metrics scrape, not
	 * for the request path.
	 */
	public long localSessionCount() {
		return this.l1.asMap().values().stream().filter((e) -> e.local && !e.released).count();
	}

	private <T> Mono<T> callL2(Supplier<Mono<T>> call) {
		return Mono.defer(() -> {
			if (this.degraded.get() && !probeAllowed()) {
				return Mono.error(new OwnershipStoreUnavailableException("L2 down; probing it again after back-off", null));
			}
			return counted(call);
		});
	}

	// A call whose answer or failure counts towards the outage rules.
	private <T> Mono<T> counted(Supplier<Mono<T>> call) {
		long sentAt = System.nanoTime();
		return call.get()
			.doOnError(OwnershipStoreUnavailableException.class, (ex) -> l2Failed(ex, sentAt))
			.doOnSuccess((result) -> l2Answered());
	}

	// While degraded, one call per back-off period goes through to see whether the L2 is back.
	private boolean probeAllowed() {
		long now = System.nanoTime();
		long retryAt = this.l2RetryAt.get();
		return now - retryAt >= 0 && this.l2RetryAt.compareAndSet(retryAt, now + this.retryBackoffNanos);
	}

	// The first answer after a failure ends the outage (unless it is known to go on): what was held here while it lasted
	// is published now, not at the next heartbeat.
	private void l2Answered() {
		this.lastAnswerNanos = System.nanoTime();
		this.failuresInARow.set(0);
		if (this.degraded.get() && !this.outageOngoing.getAsBoolean() && endOutage()) {
			beginRecovery();
			republishAll(true).subscribe(null, (ex) -> logger.debug("Republishing failed", ex));
		}
	}

	// A call that failed though the L2 answered another while it waited found part of it slow or down (a Redis Cluster
	// node, a busy shard), not an outage: it is not counted towards one.
	private void l2Failed(OwnershipStoreUnavailableException ex, long sentAt) {
		this.l2Errors.increment();
		if (!ex.isUnreachable() && this.lastAnswerNanos - sentAt > 0) {
			logger.debug("DistributedStoreCallFailed, answered meanwhile ({})", ex.getMessage());
			return;
		}
		int failures = this.failuresInARow.incrementAndGet();
		if (!ex.isUnreachable() && failures < FAILURES_BEFORE_DEGRADED) {
			// One slow answer is not an outage: this call failed, the next one may well succeed.
			logger.debug("DistributedStoreCallFailed failuresInARow={} ({})", failures, ex.getMessage());
			return;
		}
		if (this.degraded.compareAndSet(false, true)) {
			this.degradedSince = System.nanoTime();
			this.l2RetryAt.set(System.nanoTime() + this.retryBackoffNanos);
			logger.warn("DistributedStoreUnavailable: serving sessions owned here from L1 until the store is back ({}{})",
					ex.getMessage(), ex.isUnreachable() ? "" : ", " + failures + " failed calls in a row");
		}
	}

	private void remember(SessionId sessionId, String owner, long l2RefreshedAt) {
		boolean local = owner.equals(this.localEpoch);
		this.l1.asMap().compute(sessionId.value(), (id, current) -> {
			if (current != null && current.local && current.owner.equals(owner) && !current.released) {
				return current;
			}
			return new Entry(owner, local, false, l2RefreshedAt);
		});
	}

	private static final class Entry {

		final String owner;

		final boolean local;

		final boolean released;

		volatile long l2RefreshedAt;

		Entry(String owner, boolean local, boolean released, long l2RefreshedAt) {
			this.owner = owner;
			this.local = local;
			this.released = released;
			this.l2RefreshedAt = l2RefreshedAt;
		}

		static Entry released(String owner) {
			return new Entry(owner, true, true, 0);
		}

	}

	private static final class TierExpiry implements Expiry<String, Entry> {

		private final long ownershipNanos;

		private final long remoteNanos;

		TierExpiry(long ownershipNanos, long remoteNanos) {
			this.ownershipNanos = ownershipNanos;
			this.remoteNanos = remoteNanos;
		}

		@Override
		public long expireAfterCreate(String id, Entry entry, long currentTime) {
			return entry.local ? this.ownershipNanos : this.remoteNanos;
		}

		@Override
		public long expireAfterUpdate(String id, Entry entry, long currentTime, long currentDuration) {
			return expireAfterCreate(id, entry, currentTime);
		}

		@Override
		public long expireAfterRead(String id, Entry entry, long currentTime, long currentDuration) {
			// Sliding for sessions served here (tombstones excepted); fixed for cached remote entries.
			return (entry.local && !entry.released) ? this.ownershipNanos : currentDuration;
		}

	}

}
