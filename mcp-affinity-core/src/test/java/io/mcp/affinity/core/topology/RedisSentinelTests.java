package io.mcp.affinity.core.topology;

import io.mcp.affinity.core.test.LocalRedisSentinel;
import io.mcp.affinity.core.test.LocalRedisTopology;

/** {@link AbstractRedisTopologyTests} on Redis with Sentinel: one master, one replica, three sentinels. */
class RedisSentinelTests extends AbstractRedisTopologyTests {

	@Override
	protected LocalRedisTopology startTopology() {
		return LocalRedisSentinel.start();
	}

}
