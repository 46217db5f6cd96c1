package io.mcp.affinity.core;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;

import io.mcp.affinity.core.OwnerResolution.Kind;
import io.mcp.affinity.core.redis.RedisInstanceRegistry;
import io.mcp.affinity.core.redis.RedisOwnershipStore;
import io.mcp.affinity.core.test.RedisConnections;
import io.mcp.affinity.core.test.TestRedis;
import io.mcp.affinity.core.test.TestRedis.EmbeddedRedis;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Redis stopped mid-test (a redis-server of the test's own, really stopped and started again, empty): sessions
 * owned here keep answering, claims succeed locally, and reach Redis once it is back.
 */
class DegradedModeTests {

	private static final Duration OPERATION_TIMEOUT = Duration.ofMillis(300);

	@RegisterExtension
	final RedisConnections connections = new RedisConnections();

	private final EmbeddedRedis redis = EmbeddedRedis.start();

	private final String keyPrefix = TestRedis.uniquePrefix();

	@AfterEach
	void stopRedis() {
		this.redis.stop();
	}

	private ReactiveStringRedisTemplate template() {
		return TestRedis.template(this.connections.track(this.redis.connectionFactory()));
	}

	private TwoTierOwnershipStore twoTier(InstanceIdentity self) {
		RedisOwnershipStore l2 = new RedisOwnershipStore(template(), this.keyPrefix, Duration.ofMinutes(5),
				OPERATION_TIMEOUT);
		return new TwoTierOwnershipStore(self.epoch(), l2, Duration.ofMinutes(5));
	}

	private RedisInstanceRegistry registry() {
		return new RedisInstanceRegistry(template(), this.keyPrefix, Duration.ofSeconds(30), Duration.ofMillis(100),
				OPERATION_TIMEOUT);
	}

	@Test
	void localSessionsKeepWorkingThroughAnOutageAndClaimsReachRedisWhenItReturns() {
		InstanceIdentity self = InstanceIdentity.create(URI.create("http://127.0.0.1:8081"));
		TwoTierOwnershipStore store = twoTier(self);
		RedisInstanceRegistry registry = registry();
		SessionOwnerResolver resolver = new SessionOwnerResolver(self, store, registry);
		InstanceHeartbeat heartbeat = new InstanceHeartbeat(registry, self, Duration.ofMillis(200),
				store::republishLocalSessions);
		heartbeat.start(Duration.ofSeconds(2));
		SessionId before = SessionId.of(UUID.randomUUID().toString());
		assertThat(resolver.claim(before).block()).isTrue();

		this.redis.stop();

		// Answers for a local session come from L1 at once, not after a timeout.
		long start = System.nanoTime();
		assertThat(resolver.resolve(before).block(Duration.ofSeconds(2)).kind()).isEqualTo(Kind.LOCAL);
		assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(OPERATION_TIMEOUT);

		// A claim waits at most the operation timeout, then holds the session locally.
		SessionId during = SessionId.of(UUID.randomUUID().toString());
		assertThat(resolver.claim(during).block(Duration.ofSeconds(2))).isTrue();
		assertThat(resolver.resolve(during).block(Duration.ofSeconds(2)).kind()).isEqualTo(Kind.LOCAL);
		assertThat(store.isDegraded()).isTrue();

		// A session nobody here knows cannot be placed while Redis is down: unavailable, not unknown (not a 404).
		assertThat(resolver.resolve(SessionId.of(UUID.randomUUID().toString())).block(Duration.ofSeconds(2)).kind())
			.isEqualTo(Kind.UNAVAILABLE);

		this.redis.restart();

		// Redis came back empty; the heartbeat notices and republishes what this instance owns.
		RedisOwnershipStore elsewhere = new RedisOwnershipStore(template(), this.keyPrefix, Duration.ofMinutes(5),
				OPERATION_TIMEOUT);
		await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
			assertThat(elsewhere.findOwner(during).blockOptional()).contains(self.epoch());
			assertThat(elsewhere.findOwner(before).blockOptional()).contains(self.epoch());
		});
		assertThat(store.isDegraded()).isFalse();
		heartbeat.close();
	}

	@Test
	void sessionsOfOtherInstancesSeenBeforeAnOutageStillRouteToTheirOwnerDuringIt() throws InterruptedException {
		InstanceIdentity owner = InstanceIdentity.create(URI.create("http://127.0.0.1:8081"));
		InstanceIdentity self = InstanceIdentity.create(URI.create("http://127.0.0.1:8082"));
		registry().heartbeat(owner).block();
		RedisOwnershipStore ownerStore = new RedisOwnershipStore(template(), this.keyPrefix, Duration.ofMinutes(5),
				OPERATION_TIMEOUT);
		SessionId session = SessionId.of(UUID.randomUUID().toString());
		ownerStore.claim(session, owner.epoch()).block();

		TwoTierOwnershipStore store = twoTier(self);
		RedisInstanceRegistry registry = registry();
		SessionOwnerResolver resolver = new SessionOwnerResolver(self, store, registry);
		assertThat(resolver.resolve(session).block().owner()).isEqualTo(owner);

		this.redis.stop();
		Thread.sleep(300); // past the liveness cache time: the registry must be asked, and cannot answer

		OwnerResolution during = resolver.resolve(session).block(Duration.ofSeconds(2));
		assertThat(during.kind()).isEqualTo(Kind.REMOTE);
		assertThat(during.owner()).isEqualTo(owner);
	}

	@Test
	void aPausedRedisDoesNotStallClaimsBeyondTheTimeout() {
		InstanceIdentity self = InstanceIdentity.create(URI.create("http://127.0.0.1:8081"));
		TwoTierOwnershipStore store = twoTier(self);
		// CLIENT PAUSE: Redis is up but answers nobody for 3 s (slow, not down).
		try (RedisConnection admin = this.connections.track(this.redis.connectionFactory()).getConnection()) {
			admin.execute("CLIENT", "PAUSE".getBytes(StandardCharsets.US_ASCII), "3000".getBytes(StandardCharsets.US_ASCII));
		}

		long start = System.nanoTime();
		assertThat(store.claim(SessionId.of(UUID.randomUUID().toString()), self.epoch()).block(Duration.ofSeconds(2)))
			.isEqualTo(self.epoch());
		assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
		assertThat(store.isDegraded()).isTrue();
	}

}
