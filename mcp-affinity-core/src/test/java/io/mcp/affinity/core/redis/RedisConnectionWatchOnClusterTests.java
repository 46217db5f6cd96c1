package io.mcp.affinity.core.redis;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.mcp.affinity.core.test.LocalRedisCluster;
import org.junit.jupiter.api.Test;
import org.springframework.data.redis.connection.RedisClusterConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceClientConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.StringRedisTemplate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A real Redis Cluster (three masters, three replicas) whose master of a key is killed with SIGKILL, seen by a client
 * that never refreshes its topology by itself: no periodic refresh, no adaptive trigger. That is the state a CI run
 * caught one instance's Lettuce client in after a master's death: it refreshed no more, while the other instances did
 * every 5 s (in Lettuce 6.8.2 one refresh that never completes holds back every later one). The watch alone must bring
 * the client's view up to date.
 */
class RedisConnectionWatchOnClusterTests {

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
