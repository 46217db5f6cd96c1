package io.mcp.affinity.core;

import java.net.URI;
import java.time.Duration;
import java.util.UUID;

import io.mcp.affinity.core.OwnerResolution.Kind;
import io.mcp.affinity.core.redis.RedisInstanceRegistry;
import io.mcp.affinity.core.redis.RedisOwnershipStore;
import io.mcp.affinity.core.redis.RedisSessionInvalidations;
import io.mcp.affinity.core.test.RedisConnections;
import io.mcp.affinity.core.test.TestRedis;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import reactor.core.Disposable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * When a session ends (deleted, or found stale), other instances drop their cached copy at once through Redis
 * pub/sub, long before their L1 time-to-live (ten minutes here) would.
 */
class L1CoherenceTests {

	private static final Duration TIME_TO_LIVE = Duration.ofMinutes(30);

	@RegisterExtension
	final RedisConnections connections = new RedisConnections();

	private final String keyPrefix = TestRedis.uniquePrefix();

	private final java.util.List<AutoCloseable> closeables = new java.util.ArrayList<>();

	@AfterEach
	void close() throws Exception {
		for (AutoCloseable closeable : this.closeables) {
			closeable.close();
		}
	}

	private Instance start(String address) {
		LettuceConnectionFactory factory = this.connections.factory();
		InstanceIdentity identity = InstanceIdentity.create(URI.create(address));
		RedisOwnershipStore l2 = new RedisOwnershipStore(TestRedis.template(factory), this.keyPrefix, TIME_TO_LIVE,
				RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT);
		TwoTierOwnershipStore store = new TwoTierOwnershipStore(identity.epoch(), l2, TIME_TO_LIVE,
				Duration.ofMinutes(10), 1_000, Duration.ofMinutes(5), Duration.ofSeconds(1));
		RedisSessionInvalidations invalidations = new RedisSessionInvalidations(factory, TestRedis.template(factory),
				this.keyPrefix, RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT);
		store.setInvalidationPublisher(invalidations::publish);
		Disposable subscription = invalidations.subscribe(store::evictFromL1);
		this.closeables.add(subscription::dispose);
		this.closeables.add(invalidations);
		RedisInstanceRegistry registry = new RedisInstanceRegistry(TestRedis.template(factory), this.keyPrefix,
				Duration.ofSeconds(30), Duration.ofMillis(100), RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT);
		registry.setConfirmationDelay(Duration.ofMillis(200));
		registry.heartbeat(identity).block();
		return new Instance(identity, store, registry, new SessionOwnerResolver(identity, store, registry));
	}

	@Test
	void aDeletedSessionIsDroppedFromTheOtherInstancesL1AtOnce() throws InterruptedException {
		Instance owner = start("http://127.0.0.1:8081");
		Instance other = start("http://127.0.0.1:8082");
		Thread.sleep(300); // subscriptions in place
		SessionId session = SessionId.of(UUID.randomUUID().toString());
		owner.resolver.claim(session).block();
		assertThat(other.resolver.resolve(session).block().kind()).isEqualTo(Kind.REMOTE); // now cached in its L1

		owner.resolver.release(session).block();

		await().atMost(Duration.ofSeconds(3))
			.pollInterval(Duration.ofMillis(50))
			.until(() -> other.resolver.resolve(session).block().kind() == Kind.UNKNOWN);
	}

	@Test
	void aStaleSessionRemovedByOneInstanceIsDroppedByTheOthers() throws InterruptedException {
		Instance dead = start("http://127.0.0.1:8081");
		Instance first = start("http://127.0.0.1:8082");
		Instance second = start("http://127.0.0.1:8083");
		Thread.sleep(300);
		SessionId session = SessionId.of(UUID.randomUUID().toString());
		dead.resolver.claim(session).block();
		assertThat(second.resolver.resolve(session).block().kind()).isEqualTo(Kind.REMOTE); // cached
		dead.registry.deregister(dead.identity).block();

		assertThat(first.resolver.resolve(session).block().kind()).isEqualTo(Kind.STALE);

		await().atMost(Duration.ofSeconds(3))
			.pollInterval(Duration.ofMillis(50))
			.until(() -> second.store.findOwner(session).blockOptional().isEmpty());
	}

	private record Instance(InstanceIdentity identity, TwoTierOwnershipStore store, RedisInstanceRegistry registry,
			SessionOwnerResolver resolver) {
	}

}
