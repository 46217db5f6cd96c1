package io.mcp.affinity.core.test;

import java.util.List;

import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/** A scale-out Redis topology that a test starts on loopback and stops when done. */
public interface LocalRedisTopology extends AutoCloseable {

	/** A started connection factory to the topology; the caller destroys it. */
	LettuceConnectionFactory connectionFactory();

	/** Arguments that point a Spring Boot application at the topology. */
	List<String> springArguments();

	/** Stops every process of the topology. */
	@Override
	void close();

}
