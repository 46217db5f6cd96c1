package io.mcp.affinity.core.topology;

import java.util.List;

import io.mcp.affinity.core.test.LocalRedisCluster;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/** {@link AbstractRedisTopologyTests} on a Redis Cluster of three masters and three replicas. */
class RedisClusterTests extends AbstractRedisTopologyTests {

	@Override
	protected LettuceConnectionFactory startTopology(List<AutoCloseable> resources) {
		LocalRedisCluster cluster = LocalRedisCluster.start();
		resources.add(cluster);
		return cluster.connectionFactory();
	}

}
