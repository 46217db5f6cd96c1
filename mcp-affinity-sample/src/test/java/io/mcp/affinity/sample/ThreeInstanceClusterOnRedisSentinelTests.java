package io.mcp.affinity.sample;

import io.mcp.affinity.core.test.LocalRedisSentinel;
import io.mcp.affinity.core.test.LocalRedisTopology;

/**
 * The three-instance suite on Redis with Sentinel (one master, one replica, three sentinels), started by the test:
 * the instances find the master through the sentinels.
 */
class ThreeInstanceClusterOnRedisSentinelTests extends ThreeInstanceClusterTests {

	@Override
	protected LocalRedisTopology startRedisTopology() {
		return LocalRedisSentinel.start();
	}

}
