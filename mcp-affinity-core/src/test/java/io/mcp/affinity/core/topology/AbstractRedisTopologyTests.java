package io.mcp.affinity.core.topology;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.OwnerResolution.Kind;
import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.core.SessionOwnerResolver;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.core.redis.RedisInstanceRegistry;
import io.mcp.affinity.core.redis.RedisOwnershipStore;
import io.mcp.affinity.core.redis.RedisSessionInvalidations;
import io.mcp.affinity.core.test.AbstractOwnershipStoreContractTests;
import io.mcp.affinity.core.test.LocalRedisTopology;
import io.mcp.affinity.core.test.TestRedis;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import reactor.core.Disposable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The ownership stores, the registry and the invalidations on a scale-out Redis topology started by the test itself:
 * the store contract suite, unchanged, for the Redis store and the two-tier store, and what a topology can break
 * (scripts that touch several keys, pub/sub, the first registration that evicts an earlier run).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AbstractRedisTopologyTests {

	private LocalRedisTopology topology;

	// Subscriptions of the tests' instances: closed before the connection factory and the topology.
	private final List<AutoCloseable> subscriptions = new ArrayList<>();

	private LettuceConnectionFactory factory;

	private final String keyPrefix = TestRedis.uniquePrefix();

	/** Starts the topology under test. */
	protected abstract LocalRedisTopology startTopology();

	@BeforeAll
	void start() {
		this.topology = startTopology();
		this.factory = this.topology.connectionFactory();
	}

	@AfterAll
	void stop() throws Exception {
		for (AutoCloseable subscription : this.subscriptions) {
			subscription.close();
		}
		this.factory.destroy();
		this.topology.close();
	}

	private ReactiveStringRedisTemplate template() {
		return TestRedis.template(this.factory);
	}

	private RedisOwnershipStore redisStore(Duration timeToLive) {
		return new RedisOwnershipStore(template(), this.keyPrefix, timeToLive,
				RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT);
	}

	private RedisInstanceRegistry registry(String keyPrefix) {
		RedisInstanceRegistry registry = new RedisInstanceRegistry(template(), keyPrefix, Duration.ofSeconds(30),
				RedisInstanceRegistry.DEFAULT_LIVENESS_CACHE_TIME, RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT);
		registry.setConfirmationDelay(Duration.ofMillis(200));
		return registry;
	}

	@Nested
	class RedisStore extends AbstractOwnershipStoreContractTests {

		@Override
		protected OwnershipStore createStore(String localEpoch) {
			return redisStore(TIME_TO_LIVE);
		}

	}

	@Nested
	class TwoTierStore extends AbstractOwnershipStoreContractTests {

		@Override
		protected OwnershipStore createStore(String localEpoch) {
			return new TwoTierOwnershipStore(localEpoch, redisStore(TIME_TO_LIVE), TIME_TO_LIVE,
					Duration.ofMillis(500), 10_000, Duration.ofMillis(200), TwoTierOwnershipStore.DEFAULT_L2_RETRY_BACKOFF);
		}

	}

	@Test
	void theFirstRegistrationAtAnAddressEvictsTheEarlierRunAndListsOnlyLiveInstances() {
		String keyPrefix = TestRedis.uniquePrefix();
		RedisInstanceRegistry registry = registry(keyPrefix);
		InstanceIdentity before = InstanceIdentity.create(URI.create("http://127.0.0.1:9001"));
		InstanceIdentity other = InstanceIdentity.create(URI.create("http://127.0.0.1:9002"));
		assertThat(registry.heartbeat(before).block()).isTrue();
		assertThat(registry.heartbeat(other).block()).isTrue();
		assertThat(registry.heartbeat(before).block()).isFalse();

		InstanceIdentity restarted = InstanceIdentity.create(URI.create("http://127.0.0.1:9001"));
		assertThat(registry.heartbeat(restarted).block()).isTrue();

		assertThat(registry(keyPrefix).findLive(before.epoch()).blockOptional()).isEmpty();
		assertThat(registry.liveInstances().collectList().block()).containsExactlyInAnyOrder(restarted, other);
		registry.markDraining(other).block();
		assertThat(registry.drainingEpochs().collectList().block()).containsExactly(other.epoch());
	}

	@Test
	void aDeletedSessionIsDroppedFromTheOtherInstancesL1AtOnce() throws InterruptedException {
		Instance owner = instance("http://127.0.0.1:9011");
		Instance other = instance("http://127.0.0.1:9012");
		Thread.sleep(500); // subscriptions in place
		SessionId session = SessionId.of(UUID.randomUUID().toString());
		assertThat(owner.resolver().claim(session).block()).isTrue();
		assertThat(other.resolver().resolve(session).block().kind()).isEqualTo(Kind.REMOTE); // now in its L1

		owner.resolver().release(session).block();

		await().atMost(Duration.ofSeconds(5))
			.pollInterval(Duration.ofMillis(50))
			.until(() -> other.resolver().resolve(session).block().kind() == Kind.UNKNOWN);
	}

	private Instance instance(String address) {
		InstanceIdentity identity = InstanceIdentity.create(URI.create(address));
		// L1 keeps other instances' sessions for ten minutes: only the invalidation can make it forget in time.
		TwoTierOwnershipStore store = new TwoTierOwnershipStore(identity.epoch(), redisStore(Duration.ofMinutes(30)),
				Duration.ofMinutes(30), Duration.ofMinutes(10), 1_000, Duration.ofMinutes(5),
				TwoTierOwnershipStore.DEFAULT_L2_RETRY_BACKOFF);
		RedisSessionInvalidations invalidations = new RedisSessionInvalidations(this.factory, template(), this.keyPrefix,
				RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT);
		store.setInvalidationPublisher(invalidations::publish);
		Disposable subscription = invalidations.subscribe(store::evictFromL1);
		this.subscriptions.add(subscription::dispose);
		this.subscriptions.add(invalidations);
		RedisInstanceRegistry registry = registry(this.keyPrefix);
		registry.heartbeat(identity).block();
		return new Instance(store, new SessionOwnerResolver(identity, store, registry));
	}

	private record Instance(TwoTierOwnershipStore store, SessionOwnerResolver resolver) {
	}

}
