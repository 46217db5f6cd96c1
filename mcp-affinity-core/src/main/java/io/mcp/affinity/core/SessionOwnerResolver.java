package io.mcp.affinity.core;

import java.time.Duration;
import java.util.Objects;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * Answers, for one instance, the question the affinity layer routes by: which live instance holds session S?
 * <p>
 * An unknown session is never claimed on sight: only {@link #claim} (called when this instance's own MCP handler
 * has minted the session) creates ownership, so a guessed or expired id cannot be captured by whichever instance
 * sees it first.
 * <p>
 * Two kinds of id are routed, whatever this instance's {@link OwnershipMode}: a {@link RoutedSessionId} names its owner,
 * found in the registry's in-memory view with no store access; any other id is looked up in the store. The mode only
 * decides which kind the sessions created here get (see {@link #establish}).
 */
public final class SessionOwnerResolver {

	private static final Logger logger = LoggerFactory.getLogger(SessionOwnerResolver.class);

	private final InstanceIdentity self;

	private final OwnershipStore store;

	private final InstanceRegistry registry;

	private final Mono<OwnerResolution> local = Mono.just(OwnerResolution.LOCAL);

	private final Mono<OwnerResolution> unknown = Mono.just(OwnerResolution.UNKNOWN);

	private final Mono<OwnerResolution> stale = Mono.just(OwnerResolution.STALE);

	// In session-id mode: the transport ids of the sessions created here, kept while they are used. Only this
	// instance's memory says whether one of its own routed ids is live; nothing about them is stored elsewhere.
	private @Nullable Cache<String, Boolean> ownSessions;

	/**
	 * Creates a resolver.
	 * @param self this instance
	 * @param store where ownership is recorded
	 * @param registry the live instances
	 */
	public SessionOwnerResolver(InstanceIdentity self, OwnershipStore store, InstanceRegistry registry) {
		this.self = Objects.requireNonNull(self, "self must not be null");
		this.store = Objects.requireNonNull(store, "store must not be null");
		this.registry = Objects.requireNonNull(registry, "registry must not be null");
	}

	/** This instance. */
	public InstanceIdentity self() {
		return this.self;
	}

	/**
	 * Gives the sessions created here from now on a {@link RoutedSessionId} instead of a store entry
	 * ({@link OwnershipMode#SESSION_ID}).
	 * @param idleTime how long a session created here stays routable after its last request (the ownership
	 * time-to-live)
	 * @throws IllegalArgumentException if this instance's epoch cannot be written as a token (see
	 * {@link RoutedSessionId#canName})
	 */
	public void routeBySessionId(Duration idleTime) {
		if (!RoutedSessionId.canName(this.self.epoch())) {
			throw new IllegalArgumentException("The instance epoch '" + this.self.epoch()
					+ "' is not a non-negative decimal number, so session ids cannot name it");
		}
		// Bounded for safety only: the transport holds every session's state in memory anyway.
		this.ownSessions = Caffeine.newBuilder().expireAfterAccess(idleTime).maximumSize(1_000_000).build();
	}

	/** How the sessions created here are made routable. */
	public OwnershipMode ownershipMode() {
		return (this.ownSessions != null) ? OwnershipMode.SESSION_ID : OwnershipMode.STORE;
	}

	/**
	 * How many sessions created here are routable by their id ({@link OwnershipMode#SESSION_ID}).
	 * @return the count; 0 in store mode
	 */
	public long routedSessionCount() {
		Cache<String, Boolean> own = this.ownSessions;
		return (own != null) ? own.estimatedSize() : 0;
	}

	/**
	 * The id the MCP transport knows a session by: the transport's part of a {@link RoutedSessionId}, else the id.
	 * @param sessionId a session id as a client sent it
	 * @return the transport's id
	 */
	public static SessionId transportId(SessionId sessionId) {
		RoutedSessionId routed = RoutedSessionId.parse(sessionId);
		return (routed != null) ? SessionId.of(routed.transportId()) : sessionId;
	}

	/**
	 * Decides where a request for a session goes. A session this instance owns has its expiry slid. An entry that
	 * names a dead instance is removed and reported {@link OwnerResolution.Kind#STALE}.
	 * <p>
	 * When the store and the registry can answer from memory (see {@link OwnershipStore#findOwnerInMemory} and
	 * {@link InstanceRegistry#findLiveInMemory}), the decision is taken at once and returned as a ready value.
	 * @param sessionId the session
	 * @return the decision; never an error
	 */
	public Mono<OwnerResolution> resolve(SessionId sessionId) {
		return resolve(sessionId, false);
	}

	/**
	 * Decides where a request for a session goes, as {@link #resolve(SessionId)} does, knowing whether another
	 * instance forwarded it here. A forwarded request for a routed id that names another run is answered
	 * {@link OwnerResolution.Kind#STALE} at once: the sender took this address for that run's, so that run is gone (this
	 * instance restarted at its address).
	 * @param sessionId the session
	 * @param forwarded whether another instance forwarded the request
	 * @return the decision; never an error
	 */
	public Mono<OwnerResolution> resolve(SessionId sessionId, boolean forwarded) {
		RoutedSessionId routed = RoutedSessionId.parse(sessionId);
		if (routed != null) {
			return resolveRouted(sessionId, routed, forwarded);
		}
		// The common case, a session held in memory, costs no operator assembly: on an L1 hit that assembly, not the
		// look-up, was most of the time a request spent here.
		String ownerEpoch = this.store.findOwnerInMemory(sessionId, this.self.epoch());
		if (ownerEpoch != null) {
			if (ownerEpoch.equals(this.self.epoch())) {
				logResolution(sessionId, OwnerResolution.LOCAL);
				return this.local;
			}
			Mono<OwnerResolution> remote = remoteInMemory(sessionId, ownerEpoch);
			if (remote != null) {
				return remote;
			}
			// The store has answered (and counted its look-up): only the registry is left to ask.
			return decided(sessionId, resolveRemote(sessionId, ownerEpoch));
		}
		return decided(sessionId, this.store.findOwner(sessionId)
			.flatMap((owner) -> owner.equals(this.self.epoch()) ? this.store.refresh(sessionId, owner).then(this.local)
					: resolveRemote(sessionId, owner))
			.defaultIfEmpty(OwnerResolution.UNKNOWN));
	}

	// The decision for a session of another instance, when the registry knows that instance live from memory.
	private @Nullable Mono<OwnerResolution> remoteInMemory(SessionId sessionId, String ownerEpoch) {
		InstanceIdentity owner = this.registry.findLiveInMemory(ownerEpoch);
		if (owner == null) {
			return null;
		}
		OwnerResolution remote = OwnerResolution.remote(owner);
		logResolution(sessionId, remote);
		return Mono.just(remote);
	}

	// No store access: this instance's own memory, or the registry's in-memory view of the live instances.
	private Mono<OwnerResolution> resolveRouted(SessionId sessionId, RoutedSessionId routed, boolean forwarded) {
		String ownerEpoch = routed.ownerEpoch();
		if (ownerEpoch.equals(this.self.epoch())) {
			Cache<String, Boolean> own = this.ownSessions;
			boolean live = own != null && own.getIfPresent(routed.transportId()) != null;
			logResolution(sessionId, live ? OwnerResolution.LOCAL : OwnerResolution.UNKNOWN);
			return live ? this.local : this.unknown;
		}
		if (forwarded) {
			logger.debug("SessionOfPreviousRun session={} owner={}", sessionId, ownerEpoch);
			logResolution(sessionId, OwnerResolution.STALE);
			return this.stale;
		}
		Mono<OwnerResolution> remote = remoteInMemory(sessionId, ownerEpoch);
		if (remote != null) {
			return remote;
		}
		// An owner this instance has not heard of yet (it joined since the last listing), or one no longer listed.
		return decided(sessionId, this.registry.findLive(ownerEpoch)
			.map(OwnerResolution::remote)
			.switchIfEmpty(Mono.fromSupplier(() -> {
				logger.info("SessionOfDeadOwner session={} owner={}", sessionId, ownerEpoch);
				return OwnerResolution.STALE;
			})));
	}

	private Mono<OwnerResolution> decided(SessionId sessionId, Mono<OwnerResolution> resolution) {
		return resolution
			.onErrorResume(OwnershipStoreUnavailableException.class, (ex) -> Mono.just(OwnerResolution.UNAVAILABLE))
			.doOnNext((decision) -> logResolution(sessionId, decision));
	}

	private static void logResolution(SessionId sessionId, OwnerResolution resolution) {
		if (logger.isDebugEnabled()) {
			InstanceIdentity owner = resolution.owner();
			logger.debug("ResolvingSessionOwner session={} decision={} owner={}", sessionId, resolution.kind(),
					(owner != null) ? owner.address() : "-");
		}
	}

	private Mono<OwnerResolution> resolveRemote(SessionId sessionId, String ownerEpoch) {
		return this.registry.findLive(ownerEpoch)
			.map(OwnerResolution::remote)
			.switchIfEmpty(Mono.defer(() -> {
				logger.info("RemovingStaleSession session={} reason=owner-not-live", sessionId);
				return this.store.release(sessionId, ownerEpoch).thenReturn(OwnerResolution.STALE);
			}));
	}

	/**
	 * Makes a session this instance's MCP handler has just created routable from every instance, as this instance's
	 * {@link #ownershipMode() mode} says: in session-id mode by naming this instance in the id (in memory only, at
	 * once), in store mode by {@link #claim claiming} it in the store.
	 * @param created the id the transport minted
	 * @return the id the client must be given, or empty if another instance already held the id (store mode); an
	 * error if the store did not confirm the claim
	 */
	public Mono<SessionId> establish(SessionId created) {
		Cache<String, Boolean> own = this.ownSessions;
		if (own != null) {
			SessionId routed = RoutedSessionId.of(this.self.epoch(), created.value());
			if (routed != null) {
				own.put(created.value(), Boolean.TRUE);
				logger.info("SessionEstablished session={} owner={} ownership=session-id", routed, this.self.address());
				return Mono.just(routed);
			}
			logger.warn("SessionIdTooLong session={}: the transport's id leaves no room for the owner's token; the "
					+ "session is routed through the store", created);
		}
		return claim(created).filter(Boolean::booleanValue).map((won) -> created);
	}

	/**
	 * Records that this instance owns a session its MCP handler has just created.
	 * @param sessionId the new session
	 * @return whether this instance holds the session now (false only if another instance already held the id)
	 */
	public Mono<Boolean> claim(SessionId sessionId) {
		return this.store.claim(sessionId, this.self.epoch())
			.map((winner) -> winner.equals(this.self.epoch()))
			.doOnNext((won) -> {
				if (won) {
					logger.info("SessionEstablished session={} owner={}", sessionId, this.self.address());
				}
				else {
					logger.warn("SessionClaimConflict session={}: another instance already owns this id", sessionId);
				}
			});
	}

	/**
	 * Ends this instance's ownership of a session (the session was deleted), so every instance answers for it as
	 * for an unknown session.
	 * @param sessionId the session
	 * @return whether an entry was removed
	 */
	public Mono<Boolean> release(SessionId sessionId) {
		RoutedSessionId routed = RoutedSessionId.parse(sessionId);
		if (routed != null) {
			Cache<String, Boolean> own = this.ownSessions;
			boolean removed = own != null && routed.ownerEpoch().equals(this.self.epoch())
					&& own.asMap().remove(routed.transportId()) != null;
			return Mono.just(removed);
		}
		return this.store.release(sessionId, this.self.epoch());
	}

	/**
	 * Removes a session's entry after its owner could not be reached, unless a newer owner holds it by now.
	 * @param sessionId the session
	 * @param owner the owner that did not answer
	 * @return whether an entry was removed
	 */
	public Mono<Boolean> releaseUnreachable(SessionId sessionId, InstanceIdentity owner) {
		if (RoutedSessionId.parse(sessionId) != null) {
			// Nothing is stored for it: the registry drops the owner once its heartbeat stops.
			return Mono.just(false);
		}
		logger.info("RemovingStaleSession session={} reason=owner-unreachable owner={}", sessionId, owner.address());
		return this.store.release(sessionId, owner.epoch());
	}

}
