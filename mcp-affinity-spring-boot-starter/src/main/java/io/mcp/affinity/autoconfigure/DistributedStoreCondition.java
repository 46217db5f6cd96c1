package io.mcp.affinity.autoconfigure;

import java.util.List;

import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.env.Environment;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * Matches when ownership goes to Redis: {@code mcp.affinity.store=redis}, or {@code auto} (the default) with Redis
 * configured through {@code spring.data.redis.*}. Boot creates a connection factory to localhost even when nothing is
 * configured, so the factory's presence alone says nothing about the user's intent.
 */
class DistributedStoreCondition extends SpringBootCondition {

	private static final List<String> REDIS_PROPERTIES = List.of("spring.data.redis.url", "spring.data.redis.host",
			"spring.data.redis.port", "spring.data.redis.sentinel.master", "spring.data.redis.cluster.nodes[0]",
			"spring.data.redis.cluster.nodes");

	@Override
	public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
		Environment environment = context.getEnvironment();
		String store = environment.getProperty("mcp.affinity.store", "auto").trim().toLowerCase();
		switch (store) {
			case "redis":
				return ConditionOutcome.match("mcp.affinity.store is redis");
			case "memory":
				return ConditionOutcome.noMatch("mcp.affinity.store is memory");
			default:
				for (String property : REDIS_PROPERTIES) {
					if (environment.containsProperty(property)) {
						return ConditionOutcome.match("mcp.affinity.store is auto and " + property + " is set");
					}
				}
				return ConditionOutcome.noMatch("mcp.affinity.store is auto and no spring.data.redis.* is set");
		}
	}


	/** The opposite: ownership stays in memory, one instance. */
	static class Not extends SpringBootCondition {

		private final DistributedStoreCondition distributed = new DistributedStoreCondition();

		@Override
		public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
			ConditionOutcome outcome = this.distributed.getMatchOutcome(context, metadata);
			return new ConditionOutcome(!outcome.isMatch(), outcome.getConditionMessage());
		}

	}

}
