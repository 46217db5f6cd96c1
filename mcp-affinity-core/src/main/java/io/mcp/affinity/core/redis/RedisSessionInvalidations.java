package io.mcp.affinity.core.redis;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;

import io.mcp.affinity.core.SessionId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.data.redis.connection.ReactiveRedisConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import org.springframework.data.redis.listener.ChannelTopic;
import org.springframework.data.redis.listener.ReactiveRedisMessageListenerContainer;
import reactor.core.Disposable;
import reactor.core.publisher.Mono;
import reactor.util.retry.Retry;

/**
 * Keeps the L1 tiers of all instances coherent: when a session's ownership ends (deleted, or found stale), the id is
 * published on the Redis channel {@code <prefix>invalidations}, and every instance drops its cached copy at once
 * instead of forwarding to a dead owner until its L1 entry expires. Best effort: a lost message costs at most one L1
 * time-to-live of 404s answered by the (former) owner, never a wrong owner.
 * <p>
 * Unlike the ownership keys (see {@link SessionKeys}), messages carry the raw id, since the L1 is keyed by it. That is
 * safe because only ended sessions are published: their ids no longer open anything. Subscribers (and
 * {@code MONITOR}) see them, so never publish a live session here.
 */
public final class RedisSessionInvalidations implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(RedisSessionInvalidations.class);

	private final ReactiveStringRedisTemplate redis;

	private final ReactiveRedisMessageListenerContainer container;

	private final ChannelTopic channel;

	private final RedisCalls calls;

	/**
	 * Creates the channel.
	 * @param connectionFactory the connection factory, for the subscription
	 * @param redis the template, for publishing
	 * @param keyPrefix the key prefix shared with the store
	 * @param operationTimeout bound on publishing
	 */
	public RedisSessionInvalidations(ReactiveRedisConnectionFactory connectionFactory, ReactiveStringRedisTemplate redis,
			String keyPrefix, Duration operationTimeout) {
		this.redis = Objects.requireNonNull(redis, "redis must not be null");
		this.container = new ReactiveRedisMessageListenerContainer(connectionFactory);
		this.channel = ChannelTopic.of(keyPrefix + "invalidations");
		this.calls = new RedisCalls(operationTimeout);
	}

	/**
	 * Tells every instance that a session's ownership ended.
	 * @param sessionId the session
	 * @return completion; never an error (best effort)
	 */
	public Mono<Void> publish(SessionId sessionId) {
		return this.calls.bounded("invalidation", this.redis.convertAndSend(this.channel.getTopic(), sessionId.value()))
			.then()
			.onErrorResume((ex) -> {
				logger.debug("Could not publish an invalidation", ex);
				return Mono.empty();
			});
	}

	/**
	 * Listens for ended sessions, re-subscribing after a Redis outage.
	 * @param onInvalidated receives the id of each ended session
	 * @return the subscription
	 */
	public Disposable subscribe(Consumer<String> onInvalidated) {
		return this.container.receive(this.channel)
			.map((message) -> message.getMessage())
			.retryWhen(Retry.backoff(Long.MAX_VALUE, Duration.ofMillis(200)).maxBackoff(Duration.ofSeconds(5)))
			.subscribe(onInvalidated);
	}

	@Override
	public void close() {
		this.container.destroy();
	}

}
