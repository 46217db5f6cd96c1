package io.mcp.affinity.core.redis;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.core.test.LocalRedisCluster;
import io.mcp.affinity.core.test.TestRedis;
import org.junit.jupiter.api.Test;
import org.springframework.data.redis.connection.RedisClusterConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceClientConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.StringRedisTemplate;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real Redis Cluster (three masters, three replicas) whose master of a key is killed with SIGKILL.
 */
class RedisConnectionWatchOnClusterTests {

	// Seen by a client that never refreshes its topology by itself: no periodic refresh, no adaptive trigger. That is
	// the state a CI run caught one instance's Lettuce client in after a master's death: it refreshed no more, while the
	// other instances did every 5 s (in Lettuce 6.8.2 one refresh that never completes holds back every later one). The
	// watch alone must bring the client's view up to date.
	@Test
	void aClientThatNeverRefreshesItselfFollowsAFailoverOnceTheWatchSeesTheDeadMaster() throws Exception {
		try (LocalRedisCluster cluster = LocalRedisCluster.start()) {
			LettuceConnectionFactory factory = clientWithoutTopologyRefresh(cluster);
			AtomicInteger unreachable = new AtomicInteger();
			try (RedisConnectionWatch watch = RedisConnectionWatch.start(factory, (ex) -> unreachable.incrementAndGet())) {
				StringRedisTemplate redis = new StringRedisTemplate(factory);
				redis.opsForValue().set("session-key", "before");
				int master = cluster.masterOf("session-key");

				cluster.kill(master);

				await().atMost(Duration.ofSeconds(30))
					.pollInterval(Duration.ofMillis(200))
					.ignoreExceptions()
					.untilAsserted(() -> {
						redis.opsForValue().set("session-key", "after");
						assertThat(redis.opsForValue().get("session-key")).isEqualTo("after");
					});
				assertThat(cluster.masterOf("session-key")).isNotEqualTo(master);
				assertThat(unreachable).as("reconnects to the dead master reported").hasPositiveValue();
				int reportedBeforeSettling = unreachable.get();
				Thread.sleep(3_000);
				assertThat(unreachable).as("the dead master, now without slots, no longer reported")
					.hasValue(reportedBeforeSettling);
			}
			finally {
				factory.destroy();
			}
		}
	}

	// While every request is answered from memory nothing asks Redis but the heartbeat, and one sent during the failover
	// waits out the operation timeout on the dead master's connection. The watch tells the store when the client's view
	// shows the slots moved: here no call and no heartbeat at all, so only the watch can end the outage.
	@Test
	void theStoreLearnsFromTheWatchThatAFailoverIsOverWithoutACallOfItsOwn() throws Exception {
		try (LocalRedisCluster cluster = LocalRedisCluster.start()) {
			LettuceConnectionFactory factory = clientAsTheStarterConfiguresIt(cluster);
			TwoTierOwnershipStore store = new TwoTierOwnershipStore("this-instance",
					new RedisOwnershipStore(TestRedis.template(factory), TestRedis.uniquePrefix(), Duration.ofMinutes(30),
							RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT),
					Duration.ofMinutes(30));
			RedisConnectionWatch watch = RedisConnectionWatch.start(factory, store::reportFailure);
			store.setOutageOngoing(watch::isOutageOngoing);
			watch.setOnOutageOver(store::probe);
			try {
				new StringRedisTemplate(factory).opsForValue().set("a-key", "a-value");
				cluster.kill(cluster.masterOf("a-key"));
				await().atMost(Duration.ofSeconds(10)).until(store::isDegraded);
				await().atMost(Duration.ofSeconds(30)).until(() -> !store.isDegraded());
				assertThat(cluster.masterOf("a-key")).as("a replica serves the key's slot").isPositive();
			}
			finally {
				watch.close();
				factory.destroy();
				factory.getClientConfiguration().getClientResources().ifPresent(ClientResources::shutdown);
			}
		}
	}

	// A master lost with its replica, the rest of the cluster serving its own slots: no failover is coming. Each failed
	// reconnect to the dead master degraded the store, and each answer from another node ended that, a republish of
	// every local session each time, once a second. Now it is one outage while a failover could still come, then a
	// partial outage the store serves the rest of the cluster through.
	@Test
	void aMasterLostForGoodIsOneOutageThenAPartialOneThatTheRestOfTheClusterServesThrough() throws Exception {
		try (LocalRedisCluster cluster = LocalRedisCluster.start()) {
			LettuceConnectionFactory factory = clientAsTheStarterConfiguresIt(cluster);
			String prefix = TestRedis.uniquePrefix();
			RedisOwnershipStore redis = new RedisOwnershipStore(TestRedis.template(factory), prefix,
					Duration.ofMinutes(30), RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT);
			AtomicInteger claims = new AtomicInteger();
			TwoTierOwnershipStore store = new TwoTierOwnershipStore("this-instance", countingClaims(redis, claims),
					Duration.ofMinutes(30));
			RedisConnectionWatch watch = RedisConnectionWatch.start(factory, store::reportFailure);
			store.setOutageOngoing(watch::isOutageOngoing);
			// Calls from other instances' requests: look-ups of sessions this instance has not seen, some answered.
			Disposable traffic = Flux.interval(Duration.ofMillis(100))
				.flatMap((tick) -> store.findOwner(SessionId.of(UUID.randomUUID().toString()))
					.onErrorResume((ex) -> Mono.empty()))
				.subscribe();
			try {
				for (int i = 0; i < 30; i++) {
					store.claim(SessionId.of(UUID.randomUUID().toString()), "this-instance").block();
				}
				cluster.loseForGood(prefix + "any");
				claims.set(0);
				List<Boolean> states = new ArrayList<>();
				long end = System.nanoTime() + ClusterNodeOutages.PARTIAL_AFTER.plusSeconds(20).toNanos();
				while (System.nanoTime() - end < 0) {
					boolean degraded = store.isDegraded();
					if (states.isEmpty() || states.get(states.size() - 1) != degraded) {
						states.add(degraded);
					}
					Thread.sleep(50);
				}
				assertThat(states).as("degraded mode entered once, left once, while the master stayed dead")
					.containsExactly(false, true, false);
				assertThat(claims).as("the local sessions republished once, when the outage ended").hasValue(30);
				SessionId later = SessionId.of(UUID.randomUUID().toString());
				assertThat(store.claim(later, "this-instance").onErrorResume((ex) -> Mono.empty()).block())
					.as("a new session claimed in the cluster, unless its slot is the lost one")
					.isIn("this-instance", null);
				assertThat(store.isDegraded()).isFalse();
			}
			finally {
				traffic.dispose();
				watch.close();
				factory.destroy();
				factory.getClientConfiguration().getClientResources().ifPresent(ClientResources::shutdown);
			}
		}
	}

	private static OwnershipStore countingClaims(OwnershipStore store, AtomicInteger claims) {
		return new OwnershipStore() {

			@Override
			public Mono<String> claim(SessionId sessionId, String ownerEpoch) {
				claims.incrementAndGet();
				return store.claim(sessionId, ownerEpoch);
			}

			@Override
			public Mono<String> findOwner(SessionId sessionId) {
				return store.findOwner(sessionId);
			}

			@Override
			public Mono<Void> refresh(SessionId sessionId, String ownerEpoch) {
				return store.refresh(sessionId, ownerEpoch);
			}

			@Override
			public Mono<Boolean> release(SessionId sessionId, String ownerEpoch) {
				return store.release(sessionId, ownerEpoch);
			}

		};
	}

	// As the starter has it: reconnect attempts at most the store's retry back-off apart, topology refresh on.
	private static LettuceConnectionFactory clientAsTheStarterConfiguresIt(LocalRedisCluster cluster) {
		ClientResources resources = ClientResources.builder()
			.reconnectDelay(Delay.exponential(Duration.ZERO, TwoTierOwnershipStore.DEFAULT_L2_RETRY_BACKOFF, 2,
					TimeUnit.MILLISECONDS))
			.build();
		return cluster.connectionFactory(LettuceClientConfiguration.builder().clientResources(resources));
	}

	// Lettuce's topology refresh left off entirely; the command timeout short, so a command sent to the dead node
	// fails fast and the next one is tried.
	private static LettuceConnectionFactory clientWithoutTopologyRefresh(LocalRedisCluster cluster) {
		ClusterClientOptions options = ClusterClientOptions.builder()
			.topologyRefreshOptions(ClusterTopologyRefreshOptions.builder().build())
			.build();
		LettuceConnectionFactory factory = new LettuceConnectionFactory(new RedisClusterConfiguration(cluster.nodes()),
				LettuceClientConfiguration.builder().clientOptions(options).commandTimeout(Duration.ofSeconds(1)).build());
		factory.afterPropertiesSet();
		factory.start();
		return factory;
	}

}
