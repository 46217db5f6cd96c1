package io.mcp.affinity.core;

import java.util.Objects;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

/**
 * Answers, for one instance, the question the affinity layer routes by: which live instance holds session S?
 * <p>
 * An unknown session is never claimed on sight: only {@link #claim} (called when this instance's own MCP handler
 * has minted the session) creates ownership, so a guessed or expired id cannot be captured by whichever instance
 * sees it first.
 */
public final class SessionOwnerResolver {

	private static final Logger logger = LoggerFactory.getLogger(SessionOwnerResolver.class);

	private final InstanceIdentity self;

	private final OwnershipStore store;

	private final InstanceRegistry registry;

	private final Mono<OwnerResolution> local = Mono.just(OwnerResolution.LOCAL);

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
	 * Decides where a request for a session goes. A session this instance owns has its expiry slid. An entry that
	 * names a dead instance is removed and reported {@link OwnerResolution.Kind#STALE}.
	 * <p>
	 * When the store and the registry can answer from memory (see {@link OwnershipStore#findOwnerInMemory} and
	 * {@link InstanceRegistry#findLiveInMemory}), the decision is taken at once and returned as a ready value.
	 * @param sessionId the session
	 * @return the decision; never an error
	 */
	public Mono<OwnerResolution> resolve(SessionId sessionId) {
		// The common case, a session held in memory, costs no operator assembly: on an L1 hit that assembly, not the
		// look-up, was most of the time a request spent here.
		String ownerEpoch = this.store.findOwnerInMemory(sessionId, this.self.epoch());
		if (ownerEpoch != null) {
			if (ownerEpoch.equals(this.self.epoch())) {
				logResolution(sessionId, OwnerResolution.LOCAL);
				return this.local;
			}
			InstanceIdentity owner = this.registry.findLiveInMemory(ownerEpoch);
			if (owner != null) {
				OwnerResolution remote = OwnerResolution.remote(owner);
				logResolution(sessionId, remote);
				return Mono.just(remote);
			}
			// The store has answered (and counted its look-up): only the registry is left to ask.
			return decided(sessionId, resolveRemote(sessionId, ownerEpoch));
		}
		return decided(sessionId, this.store.findOwner(sessionId)
			.flatMap((owner) -> owner.equals(this.self.epoch()) ? this.store.refresh(sessionId, owner).then(this.local)
					: resolveRemote(sessionId, owner))
			.defaultIfEmpty(OwnerResolution.UNKNOWN));
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
		return this.store.release(sessionId, this.self.epoch());
	}

	/**
	 * Removes a session's entry after its owner could not be reached, unless a newer owner holds it by now.
	 * @param sessionId the session
	 * @param owner the owner that did not answer
	 * @return whether an entry was removed
	 */
	public Mono<Boolean> releaseUnreachable(SessionId sessionId, InstanceIdentity owner) {
		logger.info("RemovingStaleSession session={} reason=owner-unreachable owner={}", sessionId, owner.address());
		return this.store.release(sessionId, owner.epoch());
	}

}
