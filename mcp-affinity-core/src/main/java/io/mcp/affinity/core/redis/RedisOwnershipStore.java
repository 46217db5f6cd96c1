package io.mcp.affinity.core.redis;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionId;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.core.script.RedisScript;
import reactor.core.publisher.Mono;

/**
 * The shared {@link OwnershipStore}: one Redis string per session, {@code <prefix>session:<digest>} holding the
 * owner's epoch, with a time-to-live. The key carries a digest of the session id, never the id itself (see
 * {@link SessionKeys}), and values are a dozen bytes, so a million sessions stay small and no live id sits in Redis.
 * <p>
 * Claim and release are Lua scripts so each is one atomic round trip; claim doubles as the renewal.
 */
public final class RedisOwnershipStore implements OwnershipStore {

	/** Default key prefix, shared with {@link RedisInstanceRegistry}. */
	public static final String DEFAULT_KEY_PREFIX = "mcp-affinity:";

	/** Default time-to-live of an entry after its last claim or refresh. */
	public static final Duration DEFAULT_TIME_TO_LIVE = Duration.ofMinutes(30);

	/**
	 * Default bound on every Redis call, retries included. Generous on purpose: a call that runs out of time fails the
	 * request that waits for it, while an outage is recognised by other evidence (see the two-tier store), so this
	 * only has to cover a slow answer: a cold client, a busy or failing-over node, a GC pause.
	 */
	public static final Duration DEFAULT_OPERATION_TIMEOUT = Duration.ofSeconds(5);

	// Create the entry, or renew it for its own owner; answer who owns it afterwards.
	private static final RedisScript<String> CLAIM = RedisScript.of("""
			local current = redis.call('GET', KEYS[1])
			if (not current) or current == ARGV[1] then
			  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
			  return ARGV[1]
			end
			return current
			""", String.class);

	// Delete only if the expected owner still holds it (compare-and-delete).
	private static final RedisScript<Long> RELEASE = RedisScript.of("""
			if redis.call('GET', KEYS[1]) == ARGV[1] then
			  return redis.call('DEL', KEYS[1])
			end
			return 0
			""", Long.class);

	private final ReactiveStringRedisTemplate redis;

	private final SessionKeys keys;

	private final String timeToLiveMillis;

	private final RedisCalls calls;

	/**
	 * Creates a store with the defaults.
	 * @param redis the Redis template
	 */
	public RedisOwnershipStore(ReactiveStringRedisTemplate redis) {
		this(redis, DEFAULT_KEY_PREFIX, DEFAULT_TIME_TO_LIVE, DEFAULT_OPERATION_TIMEOUT);
	}

	/**
	 * Creates a store.
	 * @param redis the Redis template
	 * @param keyPrefix prefix of every key, so several deployments can share one Redis
	 * @param timeToLive how long an entry lives after its last claim or refresh
	 * @param operationTimeout bound on every Redis call
	 */
	public RedisOwnershipStore(ReactiveStringRedisTemplate redis, String keyPrefix, Duration timeToLive,
			Duration operationTimeout) {
		this.redis = Objects.requireNonNull(redis, "redis must not be null");
		this.keys = new SessionKeys(keyPrefix);
		if (timeToLive.toMillis() < 1) {
			throw new IllegalArgumentException("timeToLive must be at least 1ms, was " + timeToLive);
		}
		this.timeToLiveMillis = Long.toString(timeToLive.toMillis());
		this.calls = new RedisCalls(operationTimeout);
	}

	/**
	 * The Redis key of a session's entry: {@code <prefix>session:<digest>}, see {@link SessionKeys}.
	 * @param sessionId the session
	 * @return the key
	 */
	public String key(SessionId sessionId) {
		return this.keys.key(sessionId);
	}

	@Override
	public Mono<String> claim(SessionId sessionId, String ownerEpoch) {
		return this.calls.bounded("claim",
				this.redis.execute(CLAIM, List.of(key(sessionId)), List.of(ownerEpoch, this.timeToLiveMillis)).next());
	}

	@Override
	public Mono<String> findOwner(SessionId sessionId) {
		return this.calls.bounded("lookup", this.redis.opsForValue().get(key(sessionId)));
	}

	@Override
	public Mono<Void> refresh(SessionId sessionId, String ownerEpoch) {
		return claim(sessionId, ownerEpoch).then();
	}

	@Override
	public Mono<Boolean> release(SessionId sessionId, String ownerEpoch) {
		return this.calls.bounded("release",
				this.redis.execute(RELEASE, List.of(key(sessionId)), List.of(ownerEpoch)).next().map((n) -> n > 0));
	}

}
