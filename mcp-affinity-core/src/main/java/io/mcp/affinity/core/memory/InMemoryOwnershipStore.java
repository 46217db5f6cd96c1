package io.mcp.affinity.core.memory;

import java.time.Duration;
import java.util.Objects;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionId;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.Mono;

/**
 * An {@link OwnershipStore} in this JVM's memory, bounded in size, whose entries expire a time-to-live after their
 * last claim or refresh. On its own it serves a single instance; shared stores are in
 * {@link io.mcp.affinity.core.redis}.
 */
public final class InMemoryOwnershipStore implements OwnershipStore {

	/** Default time-to-live of an entry after its last claim or refresh. */
	public static final Duration DEFAULT_TIME_TO_LIVE = Duration.ofMinutes(30);

	/** Default most entries held; beyond it the least used are evicted. */
	public static final long DEFAULT_MAXIMUM_SIZE = 1_000_000;

	private final Cache<String, String> owners;

	/** Creates a store with {@link #DEFAULT_TIME_TO_LIVE} and {@link #DEFAULT_MAXIMUM_SIZE}. */
	public InMemoryOwnershipStore() {
		this(DEFAULT_TIME_TO_LIVE, DEFAULT_MAXIMUM_SIZE);
	}

	/**
	 * Creates a store.
	 * @param timeToLive how long an entry lives after its last claim or refresh
	 * @param maximumSize the most entries held
	 */
	public InMemoryOwnershipStore(Duration timeToLive, long maximumSize) {
		Objects.requireNonNull(timeToLive, "timeToLive must not be null");
		this.owners = Caffeine.newBuilder().expireAfterWrite(timeToLive).maximumSize(maximumSize).build();
	}

	@Override
	public Mono<String> claim(SessionId sessionId, String ownerEpoch) {
		return Mono.fromSupplier(() -> this.owners.asMap()
			.compute(sessionId.value(), (id, current) -> (current == null) ? ownerEpoch : current));
	}

	@Override
	public Mono<String> findOwner(SessionId sessionId) {
		return Mono.justOrEmpty(this.owners.getIfPresent(sessionId.value()));
	}

	/**
	 * {@inheritDoc}
	 * <p>
	 * Always answers for a live entry: all of this store is memory, and a refresh of the caller's own session is done
	 * here and now.
	 */
	@Override
	public @Nullable String findOwnerInMemory(SessionId sessionId, String callerEpoch) {
		String owner = this.owners.getIfPresent(sessionId.value());
		if (owner != null && owner.equals(callerEpoch)) {
			slideExpiry(sessionId, callerEpoch);
		}
		return owner;
	}

	@Override
	public Mono<Void> refresh(SessionId sessionId, String ownerEpoch) {
		return Mono.fromRunnable(() -> slideExpiry(sessionId, ownerEpoch));
	}

	private void slideExpiry(SessionId sessionId, String ownerEpoch) {
		this.owners.asMap()
			.computeIfPresent(sessionId.value(), (id, current) -> current.equals(ownerEpoch) ? ownerEpoch : current);
	}

	@Override
	public Mono<Boolean> release(SessionId sessionId, String ownerEpoch) {
		return Mono.fromSupplier(() -> this.owners.asMap().remove(sessionId.value(), ownerEpoch));
	}

}
