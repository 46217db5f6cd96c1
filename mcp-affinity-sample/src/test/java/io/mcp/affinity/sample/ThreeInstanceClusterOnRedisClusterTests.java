package io.mcp.affinity.sample;

import java.util.List;

import io.mcp.affinity.core.test.LocalRedisCluster;

/**
 * The three-instance suite on a Redis Cluster of three masters and three replicas, started by the test: sessions
 * spread over every master, the registry's keys share one slot, invalidations travel by cluster-wide pub/sub.
 */
class ThreeInstanceClusterOnRedisClusterTests extends ThreeInstanceClusterTests {

	private LocalRedisCluster redis;

	@Override
	protected List<String> redisArguments() {
		this.redis = LocalRedisCluster.start();
		return this.redis.springArguments();
	}

	@Override
	protected void stopRedis() {
		this.redis.close();
	}

}
