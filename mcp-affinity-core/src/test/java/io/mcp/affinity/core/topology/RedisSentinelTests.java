package io.mcp.affinity.core.topology;

import java.util.List;

import io.mcp.affinity.core.test.LocalRedisSentinel;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/** {@link AbstractRedisTopologyTests} on Redis with Sentinel: one master, one replica, three sentinels. */
class RedisSentinelTests extends AbstractRedisTopologyTests {

	@Override
	protected LettuceConnectionFactory startTopology(List<AutoCloseable> resources) {
		LocalRedisSentinel sentinel = LocalRedisSentinel.start();
		resources.add(sentinel);
		return sentinel.connectionFactory();
	}

}
