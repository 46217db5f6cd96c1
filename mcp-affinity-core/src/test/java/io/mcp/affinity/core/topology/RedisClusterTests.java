package io.mcp.affinity.core.topology;

import io.mcp.affinity.core.test.LocalRedisCluster;
import io.mcp.affinity.core.test.LocalRedisTopology;

/** {@link AbstractRedisTopologyTests} on a Redis Cluster of three masters and three replicas. */
class RedisClusterTests extends AbstractRedisTopologyTests {

	@Override
	protected LocalRedisTopology startTopology() {
		return LocalRedisCluster.start();
	}

}
