package io.mcp.affinity.sample;

import java.util.List;

import io.mcp.affinity.core.test.LocalRedisSentinel;

/**
 * The three-instance suite on Redis with Sentinel (one master, one replica, three sentinels), started by the test:
 * the instances find the master through the sentinels.
 */
class ThreeInstanceClusterOnRedisSentinelTests extends ThreeInstanceClusterTests {

	private LocalRedisSentinel redis;

	@Override
	protected List<String> redisArguments() {
		this.redis = LocalRedisSentinel.start();
		return this.redis.springArguments();
	}

	@Override
	protected void stopRedis() {
		this.redis.close();
	}

}
