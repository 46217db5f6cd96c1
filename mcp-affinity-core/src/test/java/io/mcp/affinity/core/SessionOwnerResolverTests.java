package io.mcp.affinity.core;

import java.net.URI;
import java.time.Duration;
import java.util.UUID;

import io.mcp.affinity.core.OwnerResolution.Kind;
import io.mcp.affinity.core.redis.RedisInstanceRegistry;
import io.mcp.affinity.core.redis.RedisOwnershipStore;
import io.mcp.affinity.core.test.RedisCommandCounter;
import io.mcp.affinity.core.test.RedisConnections;
import io.mcp.affinity.core.test.TestRedis;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The resolver over real Redis: several "instances" in one JVM, each with its own stores and identity. */
class SessionOwnerResolverTests {

	private static final Duration TIME_TO_LIVE = Duration.ofMinutes(5);

	@RegisterExtension
	final RedisConnections connections = new RedisConnections();

	private final String keyPrefix = TestRedis.uniquePrefix();

	private Instance start(String address, Duration heartbeatTimeToLive) {
		return start(address, heartbeatTimeToLive, TIME_TO_LIVE.dividedBy(4), Duration.ofMillis(100));
	}

	private Instance start(String address, Duration heartbeatTimeToLive, Duration refreshInterval,
			Duration livenessCacheTime) {
		InstanceIdentity identity = InstanceIdentity.create(URI.create(address));
		RedisOwnershipStore l2 = new RedisOwnershipStore(this.connections.template(), this.keyPrefix, TIME_TO_LIVE,
				RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT);
		TwoTierOwnershipStore store = new TwoTierOwnershipStore(identity.epoch(), l2, TIME_TO_LIVE,
				TwoTierOwnershipStore.DEFAULT_L1_TIME_TO_LIVE, TwoTierOwnershipStore.DEFAULT_L1_MAXIMUM_SIZE,
				refreshInterval, TwoTierOwnershipStore.DEFAULT_L2_RETRY_BACKOFF);
		RedisInstanceRegistry registry = new RedisInstanceRegistry(this.connections.template(), this.keyPrefix,
				heartbeatTimeToLive, livenessCacheTime, RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT);
		registry.setConfirmationDelay(Duration.ofMillis(200));
		registry.heartbeat(identity).block();
		return new Instance(identity, store, registry, new SessionOwnerResolver(identity, store, registry));
	}

	private Instance start(String address) {
		return start(address, Duration.ofSeconds(30));
	}

	private static SessionId newSession() {
		return SessionId.of(UUID.randomUUID().toString());
	}

	@Test
	void ownSessionIsLocalAndAnotherInstancesSessionIsRemoteAtItsRegisteredAddress() {
		Instance a = start("http://127.0.0.1:8081");
		Instance b = start("http://127.0.0.1:8082");
		SessionId session = newSession();
		assertThat(a.resolver.claim(session).block()).isTrue();

		assertThat(a.resolver.resolve(session).block().kind()).isEqualTo(Kind.LOCAL);
		OwnerResolution fromB = b.resolver.resolve(session).block();
		assertThat(fromB.kind()).isEqualTo(Kind.REMOTE);
		assertThat(fromB.owner()).isEqualTo(a.identity);
	}

	@Test
	void sessionNobodyClaimedIsUnknownAndStaysUnclaimed() {
		Instance a = start("http://127.0.0.1:8081");
		SessionId session = newSession();
		assertThat(a.resolver.resolve(session).block().kind()).isEqualTo(Kind.UNKNOWN);
		assertThat(a.store.findOwner(session).blockOptional()).isEmpty();
	}

	@Test
	void secondClaimOfTheSameIdByAnotherInstanceLoses() {
		Instance a = start("http://127.0.0.1:8081");
		Instance b = start("http://127.0.0.1:8082");
		SessionId session = newSession();
		assertThat(a.resolver.claim(session).block()).isTrue();
		assertThat(b.resolver.claim(session).block()).isFalse();
		assertThat(b.resolver.resolve(session).block().owner()).isEqualTo(a.identity);
	}

	@Test
	void releasedSessionIsUnknownEverywhere() {
		Instance a = start("http://127.0.0.1:8081");
		Instance b = start("http://127.0.0.1:8082");
		SessionId session = newSession();
		a.resolver.claim(session).block();
		assertThat(a.resolver.release(session).block()).isTrue();
		assertThat(a.resolver.resolve(session).block().kind()).isEqualTo(Kind.UNKNOWN);
		assertThat(b.resolver.resolve(session).block().kind()).isEqualTo(Kind.UNKNOWN);
	}

	@Test
	void restartAtTheSameAddressMakesTheOldRunsSessionsStaleAndRemovesThem() {
		Instance before = start("http://127.0.0.1:8081");
		Instance other = start("http://127.0.0.1:8082");
		SessionId session = newSession();
		before.resolver.claim(session).block();
		assertThat(other.resolver.resolve(session).block().kind()).isEqualTo(Kind.REMOTE);

		Instance after = start("http://127.0.0.1:8081");
		assertThat(after.identity.epoch()).isNotEqualTo(before.identity.epoch());
		assertThat(after.resolver.resolve(session).block().kind()).isEqualTo(Kind.STALE);
		assertThat(after.store.findOwner(session).blockOptional()).isEmpty();
		assertThat(after.registry.liveInstances().collectList().block()).contains(after.identity, other.identity)
			.doesNotContain(before.identity);
	}

	@Test
	void expiredHeartbeatMakesTheOwnersSessionsStale() {
		// All instances share one heartbeat time-to-live, as they do when configured alike.
		Instance dying = start("http://127.0.0.1:8081", Duration.ofMillis(300));
		Instance survivor = start("http://127.0.0.1:8082", Duration.ofMillis(300));
		SessionId session = newSession();
		dying.resolver.claim(session).block();

		await().atMost(Duration.ofSeconds(5))
			.pollInterval(Duration.ofMillis(100))
			.until(() -> survivor.resolver.resolve(session).block().kind() == Kind.STALE);
		assertThat(survivor.resolver.resolve(session).block().kind()).isEqualTo(Kind.UNKNOWN);
	}

	@Test
	void deregisteredInstanceIsDeadAtOnce() {
		Instance leaving = start("http://127.0.0.1:8081");
		Instance staying = start("http://127.0.0.1:8082");
		SessionId session = newSession();
		leaving.resolver.claim(session).block();
		leaving.registry.deregister(leaving.identity).block();
		assertThat(staying.resolver.resolve(session).block().kind()).isEqualTo(Kind.STALE);
	}

	@Test
	void anOwnerThatRegistersWithinTheConfirmationDelayIsNotDeclaredDead() {
		// As after a Redis that restarted empty: the owner's sessions are back before its registration is.
		InstanceIdentity late = InstanceIdentity.create(URI.create("http://127.0.0.1:8085"));
		Instance observer = start("http://127.0.0.1:8082");
		SessionId session = newSession();
		observer.store.claim(session, late.epoch()).block();
		RedisInstanceRegistry lateRegistry = new RedisInstanceRegistry(this.connections.template(), this.keyPrefix,
				Duration.ofSeconds(30), Duration.ofMillis(100), RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT);
		reactor.core.publisher.Mono.delay(Duration.ofMillis(50)).then(lateRegistry.heartbeat(late)).subscribe();

		OwnerResolution resolution = observer.resolver.resolve(session).block();

		assertThat(resolution.kind()).isEqualTo(Kind.REMOTE);
		assertThat(resolution.owner()).isEqualTo(late);
	}

	@Test
	void aHotOwnSessionIsLocalWithoutRedisRoundTripAndCountsAsAnL1Hit() {
		Instance a = start("http://127.0.0.1:8081");
		RedisCommandCounter commands = new RedisCommandCounter(this.connections.factory());
		SessionId session = newSession();
		a.resolver.claim(session).block();

		long before = commands.count();
		long hitsBefore = a.store.statistics().l1Hits();
		for (int i = 0; i < 1000; i++) {
			assertThat(a.resolver.resolve(session).block().kind()).isEqualTo(Kind.LOCAL);
		}
		assertThat(commands.count() - before).isZero();
		assertThat(a.store.statistics().l1Hits() - hitsBefore).isEqualTo(1000);
		// Answered from memory: one ready-made value, no pipeline assembled per call.
		assertThat(a.resolver.resolve(session)).isSameAs(a.resolver.resolve(session));
	}

	@Test
	void anOwnSessionDueForARefreshHasItsExpirySlidInRedis() throws InterruptedException {
		Instance a = start("http://127.0.0.1:8081", Duration.ofSeconds(30), Duration.ofMillis(300),
				Duration.ofMillis(100));
		RedisCommandCounter commands = new RedisCommandCounter(this.connections.factory());
		SessionId session = newSession();
		a.resolver.claim(session).block();
		assertThat(a.resolver.resolve(session).block().kind()).isEqualTo(Kind.LOCAL);

		Thread.sleep(400);
		long before = commands.scriptCalls();
		assertThat(a.resolver.resolve(session).block().kind()).isEqualTo(Kind.LOCAL);
		await().atMost(Duration.ofSeconds(2)).until(() -> commands.scriptCalls() > before);
	}

	@Test
	void anOwnSessionReleasedAfterUseIsUnknownAtOnce() {
		Instance a = start("http://127.0.0.1:8081");
		SessionId session = newSession();
		a.resolver.claim(session).block();
		assertThat(a.resolver.resolve(session).block().kind()).isEqualTo(Kind.LOCAL);
		a.resolver.release(session).block();
		assertThat(a.resolver.resolve(session).block().kind()).isEqualTo(Kind.UNKNOWN);
	}

	@Test
	void aRemoteSessionWhoseOwnerIsKnownLiveIsRemoteWithoutRedisRoundTrip() {
		Instance a = start("http://127.0.0.1:8081");
		Instance b = start("http://127.0.0.1:8082", Duration.ofSeconds(30), TIME_TO_LIVE.dividedBy(4),
				Duration.ofMinutes(1));
		RedisCommandCounter commands = new RedisCommandCounter(this.connections.factory());
		SessionId session = newSession();
		a.resolver.claim(session).block();
		assertThat(b.resolver.resolve(session).block().owner()).isEqualTo(a.identity);

		long before = commands.count();
		for (int i = 0; i < 100; i++) {
			OwnerResolution resolution = b.resolver.resolve(session).block();
			assertThat(resolution.kind()).isEqualTo(Kind.REMOTE);
			assertThat(resolution.owner()).isEqualTo(a.identity);
		}
		assertThat(commands.count() - before).isZero();
	}

	@Test
	void aRemoteSessionEvictedFromL1IsLookedUpInRedisAgain() {
		Instance a = start("http://127.0.0.1:8081");
		Instance b = start("http://127.0.0.1:8082", Duration.ofSeconds(30), TIME_TO_LIVE.dividedBy(4),
				Duration.ofMinutes(1));
		RedisCommandCounter commands = new RedisCommandCounter(this.connections.factory());
		SessionId session = newSession();
		a.resolver.claim(session).block();
		assertThat(b.resolver.resolve(session).block().kind()).isEqualTo(Kind.REMOTE);
		a.resolver.release(session).block();
		// What the invalidation message of the release does on b (see RedisSessionInvalidations).
		b.store.evictFromL1(session.value());

		long before = commands.count();
		assertThat(b.resolver.resolve(session).block().kind()).isEqualTo(Kind.UNKNOWN);
		assertThat(commands.count() - before).isPositive();
	}

	@Test
	void aDrainingInstanceIsListedAsSuchUntilItDeregisters() {
		Instance leaving = start("http://127.0.0.1:8081");
		Instance staying = start("http://127.0.0.1:8082");
		assertThat(staying.registry.drainingEpochs().collectList().block()).isEmpty();
		leaving.registry.markDraining(leaving.identity).block();
		assertThat(staying.registry.drainingEpochs().collectList().block()).containsExactly(leaving.identity.epoch());
		leaving.registry.deregister(leaving.identity).block();
		assertThat(staying.registry.drainingEpochs().collectList().block()).isEmpty();
	}

	@Test
	void inSessionIdModeANewSessionNamesItsOwnerAndIsRoutedEverywhereWithoutAnyRedisCommand() {
		Instance a = start("http://127.0.0.1:8081");
		Instance b = start("http://127.0.0.1:8082");
		a.resolver.routeBySessionId(TIME_TO_LIVE);
		// What each heartbeat does: b learns the live instances from one listing.
		b.registry.refreshLiveInstances().block();
		RedisCommandCounter commands = new RedisCommandCounter(this.connections.factory());
		SessionId created = newSession();

		long before = commands.count();
		SessionId routed = a.resolver.establish(created).block();
		for (int i = 0; i < 100; i++) {
			assertThat(a.resolver.resolve(routed).block().kind()).isEqualTo(Kind.LOCAL);
			OwnerResolution fromB = b.resolver.resolve(routed).block();
			assertThat(fromB.kind()).isEqualTo(Kind.REMOTE);
			assertThat(fromB.owner()).isEqualTo(a.identity);
		}
		assertThat(commands.count() - before).as("Redis commands").isZero();
		assertThat(routed.value()).endsWith(created.value()).isNotEqualTo(created.value());
		assertThat(SessionOwnerResolver.transportId(routed)).isEqualTo(created);
		assertThat(a.resolver.routedSessionCount()).isOne();
		// Nothing per session in Redis: the transport's own id is unknown to the store.
		assertThat(a.store.findOwner(created).blockOptional()).isEmpty();
		assertThat(b.resolver.resolve(created).block().kind()).isEqualTo(Kind.UNKNOWN);
	}

	@Test
	void inSessionIdModeADeletedOrNeverCreatedSessionOfThisInstanceIsUnknown() {
		Instance a = start("http://127.0.0.1:8081");
		a.resolver.routeBySessionId(TIME_TO_LIVE);
		SessionId routed = a.resolver.establish(newSession()).block();
		assertThat(a.resolver.release(routed).block()).isTrue();
		assertThat(a.resolver.resolve(routed).block().kind()).isEqualTo(Kind.UNKNOWN);
		// An id that names this run but a transport id it never minted: guessed, not created here.
		SessionId guessed = RoutedSessionId.of(a.identity.epoch(), UUID.randomUUID().toString());
		assertThat(a.resolver.resolve(guessed).block().kind()).isEqualTo(Kind.UNKNOWN);
	}

	@Test
	void aRoutedIdOfAPreviousRunIsStaleAtOnceWhenForwardedAndOnceTheRegistryDropsIt() {
		Instance old = start("http://127.0.0.1:8081");
		old.resolver.routeBySessionId(TIME_TO_LIVE);
		SessionId routed = old.resolver.establish(newSession()).block();
		Instance other = start("http://127.0.0.1:8082");
		other.registry.refreshLiveInstances().block();
		assertThat(other.resolver.resolve(routed).block().owner()).isEqualTo(old.identity);

		// A new run at the same address: the sender still forwards there, and the receiver knows the id is not its.
		Instance restarted = start("http://127.0.0.1:8081");
		restarted.resolver.routeBySessionId(TIME_TO_LIVE);
		assertThat(restarted.resolver.resolve(routed, true).block().kind()).isEqualTo(Kind.STALE);
		// The next listing shows another run at that address, so the sender knows too, without asking Redis again.
		other.registry.refreshLiveInstances().block();
		RedisCommandCounter commands = new RedisCommandCounter(this.connections.factory());
		long before = commands.count();
		assertThat(other.resolver.resolve(routed).block().kind()).isEqualTo(Kind.STALE);
		assertThat(commands.count() - before).isZero();
	}

	@Test
	void anIdThatNamesAnOwnerNeverRegisteredIsStale() {
		Instance a = start("http://127.0.0.1:8081");
		SessionId forged = RoutedSessionId.of("12345", UUID.randomUUID().toString());
		assertThat(a.resolver.resolve(forged).block().kind()).isEqualTo(Kind.STALE);
	}

	private record Instance(InstanceIdentity identity, TwoTierOwnershipStore store, RedisInstanceRegistry registry,
			SessionOwnerResolver resolver) {
	}

}
