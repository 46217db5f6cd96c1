package io.mcp.affinity.sample;

import io.mcp.affinity.core.test.LocalRedisCluster;
import io.mcp.affinity.core.test.LocalRedisTopology;

/**
 * The three-instance suite on a Redis Cluster of three masters and three replicas, started by the test: sessions
 * spread over every master, the registry's keys share one slot, invalidations travel by cluster-wide pub/sub.
 */
class ThreeInstanceClusterOnRedisClusterTests extends ThreeInstanceClusterTests {

	@Override
	protected LocalRedisTopology startRedisTopology() {
		return LocalRedisCluster.start();
	}

}
