package io.mcp.affinity.core;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.IntStream;

import io.mcp.affinity.core.OwnerResolution.Kind;
import io.mcp.affinity.core.redis.RedisConnectionWatch;
import io.mcp.affinity.core.redis.RedisInstanceRegistry;
import io.mcp.affinity.core.redis.RedisOwnershipStore;
import io.mcp.affinity.core.test.RedisConnections;
import io.mcp.affinity.core.test.TestRedis;
import io.mcp.affinity.core.test.TestRedis.EmbeddedRedis;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;

import reactor.core.publisher.Flux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Redis stopped mid-test (a redis-server of the test's own, really stopped and started again, empty): the store
 * learns it from the Redis client at once, sessions owned here keep answering, claims succeed locally, and reach Redis
 * once it is back. Redis paused (up, but answering nobody for a while) is slow, not down. Production defaults
 * throughout, but for the liveness cache time (100 ms), so that a test need not wait for it to pass.
 */
class DegradedModeTests {

	private static final Duration OPERATION_TIMEOUT = RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT;

	@RegisterExtension
	final RedisConnections connections = new RedisConnections();

	private final EmbeddedRedis redis = EmbeddedRedis.start();

	private final String keyPrefix = TestRedis.uniquePrefix();

	private final List<AutoCloseable> watches = new ArrayList<>();

	@AfterEach
	void stopRedis() throws Exception {
		for (AutoCloseable watch : this.watches) {
			watch.close();
		}
		this.redis.stop();
	}

	private LettuceConnectionFactory factory() {
		return this.connections.track(this.redis.connectionFactory());
	}

	private ReactiveStringRedisTemplate template() {
		return TestRedis.template(factory());
	}

	// Wired as the starter wires it: the store hears of a connection Redis refuses as soon as the client does.
	private TwoTierOwnershipStore twoTier(InstanceIdentity self) {
		LettuceConnectionFactory factory = factory();
		RedisOwnershipStore l2 = new RedisOwnershipStore(TestRedis.template(factory), this.keyPrefix,
				Duration.ofMinutes(5), OPERATION_TIMEOUT);
		TwoTierOwnershipStore store = new TwoTierOwnershipStore(self.epoch(), l2, Duration.ofMinutes(5));
		this.watches.add(RedisConnectionWatch.start(factory, store::reportFailure));
		return store;
	}

	private RedisInstanceRegistry registry() {
		return registry(Duration.ofSeconds(30));
	}

	// As the starter wires it, but for the liveness cache time; with a short time-to-live, as fast death detection
	// sets it (a 500 ms heartbeat interval, hence a 1 s confirmation delay).
	private RedisInstanceRegistry registry(Duration heartbeatTimeToLive) {
		RedisInstanceRegistry registry = new RedisInstanceRegistry(template(), this.keyPrefix, heartbeatTimeToLive,
				Duration.ofMillis(100), OPERATION_TIMEOUT);
		if (heartbeatTimeToLive.compareTo(Duration.ofSeconds(5)) < 0) {
			registry.setConfirmationDelay(Duration.ofSeconds(1));
		}
		return registry;
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
		// Evidence, not a timeout: the client's reconnect is refused, and the store hears of it.
		await().atMost(Duration.ofSeconds(3)).until(store::isDegraded);

		// Answers for a local session come from L1 at once, not after a timeout.
		long start = System.nanoTime();
		assertThat(resolver.resolve(before).block(Duration.ofSeconds(2)).kind()).isEqualTo(Kind.LOCAL);
		assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));

		// Redis is down: a claim does not wait for it, and holds the session locally.
		SessionId during = SessionId.of(UUID.randomUUID().toString());
		assertThat(resolver.claim(during).block(Duration.ofSeconds(2))).isTrue();
		assertThat(resolver.resolve(during).block(Duration.ofSeconds(2)).kind()).isEqualTo(Kind.LOCAL);

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

	/**
	 * Redis down for longer than the heartbeat time-to-live, then back empty; this instance's client reconnects first.
	 * Each client reconnects on a back-off schedule of its own, so another instance may register again seconds after
	 * this one has: until then it is live for this one, for a whole time-to-live from the first listing after the
	 * outage (the likely cause of a live instance's session lost in a CI run). An instance that never registers again
	 * is dead once that time has passed.
	 */
	@Test
	void anInstanceThatRegistersAgainLaterThanThisOneAfterAnOutageIsNotTakenForDead() throws InterruptedException {
		Duration timeToLive = Duration.ofSeconds(2);
		InstanceIdentity self = InstanceIdentity.create(URI.create("http://127.0.0.1:8081"));
		InstanceIdentity late = InstanceIdentity.create(URI.create("http://127.0.0.1:8082"));
		InstanceIdentity gone = InstanceIdentity.create(URI.create("http://127.0.0.1:8083"));
		RedisInstanceRegistry registry = registry(timeToLive);
		RedisInstanceRegistry lateRegistry = registry(timeToLive);
		for (InstanceIdentity instance : List.of(self, late, gone)) {
			registry(timeToLive).heartbeat(instance).block();
		}
		registry.heartbeat(self).block();
		registry.refreshLiveInstances().block();
		assertThat(registry.findLiveInMemory(late.epoch())).isEqualTo(late);

		this.redis.stop();
		Thread.sleep(timeToLive.toMillis() + 500);
		this.redis.restart();
		// Back first: registered again (Redis lost its key) and listing; the others have not registered again yet.
		await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> registry.heartbeat(self).block());
		registry.refreshLiveInstances().block();

		assertThat(registry.findLive(late.epoch()).block(Duration.ofSeconds(5))).isEqualTo(late);
		await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> lateRegistry.heartbeat(late).block() != null);
		registry.refreshLiveInstances().block();
		assertThat(registry.findLiveInMemory(late.epoch())).isEqualTo(late);

		Thread.sleep(timeToLive.toMillis() + 500);
		lateRegistry.heartbeat(late).block();
		registry.refreshLiveInstances().block();
		assertThat(registry.findLive(gone.epoch()).block(Duration.ofSeconds(5))).isNull();
		assertThat(registry.findLive(late.epoch()).block(Duration.ofSeconds(5))).isEqualTo(late);
	}

	@Test
	void aHeartbeatThatFailedIsSentAgainWithinTheRetryIntervalSoTheOutageEndsSoonAfterRedisIsBack() {
		InstanceIdentity self = InstanceIdentity.create(URI.create("http://127.0.0.1:8081"));
		TwoTierOwnershipStore store = twoTier(self);
		RedisInstanceRegistry registry = registry();
		// Wired as the starter wires it, with an interval longer than the test waits: only the heartbeats that follow
		// the failed one, every retry interval (the default), can notice that Redis is back in time.
		InstanceHeartbeat heartbeat = new InstanceHeartbeat(registry, self, Duration.ofMinutes(2),
				store::republishLocalSessions);
		heartbeat.setOnRegistryFailed(store::reportFailure);
		heartbeat.setOnRegistryAnswered(store::reportAnswer);
		heartbeat.start(Duration.ofSeconds(2));
		SessionId session = SessionId.of(UUID.randomUUID().toString());
		assertThat(store.claim(session, self.epoch()).block()).isEqualTo(self.epoch());

		this.redis.stop();
		heartbeat.beat().block();
		assertThat(heartbeat.isHealthy()).isFalse();
		assertThat(store.isDegraded()).isTrue();
		this.redis.restart();

		await().atMost(Duration.ofSeconds(30)).until(heartbeat::isHealthy);
		assertThat(store.isDegraded()).isFalse();
		// Redis came back empty: the heartbeat that found it published what this instance owns again.
		RedisOwnershipStore elsewhere = new RedisOwnershipStore(template(), this.keyPrefix, Duration.ofMinutes(5),
				OPERATION_TIMEOUT);
		await().atMost(Duration.ofSeconds(5))
			.untilAsserted(() -> assertThat(elsewhere.findOwner(session).blockOptional()).contains(self.epoch()));
		heartbeat.close();
	}

	@Test
	void aPausedRedisIsSlowNotDownClaimsWaitForItAndNothingDegrades() {
		InstanceIdentity self = InstanceIdentity.create(URI.create("http://127.0.0.1:8081"));
		TwoTierOwnershipStore store = twoTier(self);
		SessionId before = SessionId.of(UUID.randomUUID().toString());
		assertThat(store.claim(before, self.epoch()).block()).isEqualTo(self.epoch());
		// CLIENT PAUSE: Redis is up but answers nobody for 3 s.
		pause(Duration.ofSeconds(3));

		// Claims made during the pause wait for it, and all succeed; the store stays up.
		List<SessionId> during = IntStream.range(0, 5).mapToObj((i) -> SessionId.of(UUID.randomUUID().toString())).toList();
		List<String> winners = Flux.fromIterable(during)
			.flatMap((session) -> store.claim(session, self.epoch()))
			.collectList()
			.block(Duration.ofSeconds(10));
		assertThat(winners).hasSize(5).containsOnly(self.epoch());
		assertThat(store.isDegraded()).isFalse();
		RedisOwnershipStore direct = new RedisOwnershipStore(template(), this.keyPrefix, Duration.ofMinutes(5),
				OPERATION_TIMEOUT);
		assertThat(during).allSatisfy((session) -> assertThat(direct.findOwner(session).block()).isEqualTo(self.epoch()));
	}

	private void pause(Duration duration) {
		try (RedisConnection admin = factory().getConnection()) {
			admin.execute("CLIENT", "PAUSE".getBytes(StandardCharsets.US_ASCII),
					Long.toString(duration.toMillis()).getBytes(StandardCharsets.US_ASCII));
		}
	}

}
