package io.mcp.affinity.autoconfigure;

import java.net.URI;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import io.lettuce.core.resource.Delay;
import io.mcp.affinity.core.InstanceHeartbeat;
import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.InstanceRegistry;
import io.mcp.affinity.core.OwnershipMode;
import io.mcp.affinity.core.OwnershipStore;
import io.mcp.affinity.core.SessionOwnerResolver;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.core.memory.InMemoryOwnershipStore;
import io.mcp.affinity.core.memory.SingleInstanceRegistry;
import io.mcp.affinity.core.redis.RedisConnectionWatch;
import io.mcp.affinity.core.redis.RedisInstanceRegistry;
import io.mcp.affinity.core.redis.RedisOwnershipStore;
import io.mcp.affinity.core.redis.RedisSessionInvalidations;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.source.InvalidConfigurationPropertyValueException;
import org.springframework.boot.data.redis.autoconfigure.ClientResourcesBuilderCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.core.env.Environment;
import org.springframework.data.redis.connection.ReactiveRedisConnectionFactory;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import reactor.core.publisher.Mono;

/**
 * Auto-configuration of session ownership: this instance's identity, the ownership store, the instance registry with
 * its heartbeat, and the resolver. With Redis configured ({@code spring.data.redis.*}) ownership is shared by all
 * instances; without it the instance runs alone and keeps ownership in memory.
 */
@AutoConfiguration(afterName = "org.springframework.boot.data.redis.autoconfigure.DataRedisReactiveAutoConfiguration")
@ConditionalOnClass(SessionOwnerResolver.class)
@ConditionalOnBooleanProperty(name = "mcp.affinity.enabled", matchIfMissing = true)
@EnableConfigurationProperties(McpAffinityProperties.class)
@Import({ McpAffinityAutoConfiguration.RedisOwnershipConfiguration.class,
		McpAffinityAutoConfiguration.LocalOwnershipConfiguration.class })
public final class McpAffinityAutoConfiguration {

	private static final Logger logger = LoggerFactory.getLogger(McpAffinityAutoConfiguration.class);

	static final String ADDRESS_PROPERTY = "mcp.affinity.local-server-address";

	static final String KEY_PREFIX_PROPERTY = "mcp.affinity.redis.key-prefix";

	static final String OWNERSHIP_PROPERTY = "mcp.affinity.ownership";

	// The first Redis connection of a cold JVM can take a while; start-up waits this long for the registration.
	private static final Duration FIRST_REGISTRATION_TIMEOUT = Duration.ofSeconds(5);

	@Bean
	@ConditionalOnMissingBean
	SessionOwnerResolver sessionOwnerResolver(InstanceIdentity mcpAffinityInstanceIdentity,
			OwnershipStore ownershipStore, InstanceRegistry instanceRegistry, McpAffinityProperties properties) {
		SessionOwnerResolver resolver = new SessionOwnerResolver(mcpAffinityInstanceIdentity, ownershipStore,
				instanceRegistry);
		if (properties.getOwnership() == OwnershipMode.SESSION_ID) {
			try {
				resolver.routeBySessionId(properties.getOwnershipTimeToLive());
			}
			catch (IllegalArgumentException ex) {
				throw new InvalidConfigurationPropertyValueException(OWNERSHIP_PROPERTY, "session-id", ex.getMessage()
						+ ". Let mcp-affinity mint the epoch (remove the InstanceIdentity bean of your own), or set "
						+ OWNERSHIP_PROPERTY + "=store.");
			}
		}
		return resolver;
	}

	@Bean
	@ConditionalOnMissingBean
	InstanceHeartbeatLifecycle instanceHeartbeatLifecycle(InstanceIdentity mcpAffinityInstanceIdentity,
			OwnershipStore ownershipStore, InstanceRegistry instanceRegistry, McpAffinityProperties properties) {
		InstanceHeartbeat heartbeat = new InstanceHeartbeat(instanceRegistry, mcpAffinityInstanceIdentity,
				properties.getHeartbeat().getInterval(), () -> (ownershipStore instanceof TwoTierOwnershipStore twoTier)
						? twoTier.republishLocalSessions() : Mono.empty());
		// After a heartbeat that failed, one per back-off: Redis back from an outage (or a failover) ends degraded mode
		// within that, not up to a heartbeat interval later.
		heartbeat.setRetryInterval(properties.getRedis().getRetryBackoff());
		if (ownershipStore instanceof TwoTierOwnershipStore twoTier) {
			// The registry lives in the same Redis: its failures count as the store's.
			heartbeat.setOnRegistryFailed(twoTier::reportFailure);
			heartbeat.setOnRegistryAnswered(twoTier::reportAnswer);
		}
		return new InstanceHeartbeatLifecycle(heartbeat, FIRST_REGISTRATION_TIMEOUT,
				() -> (ownershipStore instanceof TwoTierOwnershipStore twoTier) ? twoTier.releaseLocalSessions()
						: Mono.empty());
	}

	static URI requireAddress(McpAffinityProperties properties) {
		URI address = properties.getLocalServerAddress();
		if (address == null) {
			throw new InvalidConfigurationPropertyValueException(ADDRESS_PROPERTY, null,
					"Other instances forward requests to this address, so it is required when sessions are shared "
							+ "through Redis. Set it to this instance's routable address, for example "
							+ ADDRESS_PROPERTY + "=http://10.0.0.7:8080 (in Kubernetes: http://${POD_IP}:8080).");
		}
		return checkedAddress(address);
	}

	static URI checkedAddress(URI address) {
		try {
			return InstanceIdentity.checkAddress(address);
		}
		catch (IllegalArgumentException ex) {
			throw new InvalidConfigurationPropertyValueException(ADDRESS_PROPERTY, address,
					ex.getMessage() + ". Use an absolute http(s) URI with host and port, for example http://10.0.0.7:8080.");
		}
	}

	@Configuration(proxyBeanMethods = false)
	@ConditionalOnClass({ ReactiveRedisConnectionFactory.class, ReactiveStringRedisTemplate.class })
	@Conditional(DistributedStoreCondition.class)
	static class RedisOwnershipConfiguration {

		@Bean
		@ConditionalOnMissingBean
		InstanceIdentity mcpAffinityInstanceIdentity(McpAffinityProperties properties) {
			return InstanceIdentity.create(requireAddress(properties));
		}

		@Bean(defaultCandidate = false)
		@Qualifier("mcpAffinity")
		ReactiveStringRedisTemplate mcpAffinityRedisTemplate(ReactiveRedisConnectionFactory connectionFactory) {
			return new ReactiveStringRedisTemplate(connectionFactory);
		}

		@Bean(defaultCandidate = false)
		@Qualifier("mcpAffinity")
		RedisSessionInvalidations mcpAffinityInvalidations(ReactiveRedisConnectionFactory connectionFactory,
				@Qualifier("mcpAffinity") ReactiveStringRedisTemplate mcpAffinityRedisTemplate,
				McpAffinityProperties properties) {
			return new RedisSessionInvalidations(connectionFactory, mcpAffinityRedisTemplate,
					properties.getRedis().getKeyPrefix(), properties.getRedis().getOperationTimeout());
		}

		@Bean
		@ConditionalOnMissingBean
		TwoTierOwnershipStore ownershipStore(InstanceIdentity mcpAffinityInstanceIdentity,
				@Qualifier("mcpAffinity") ReactiveStringRedisTemplate mcpAffinityRedisTemplate,
				@Qualifier("mcpAffinity") RedisSessionInvalidations mcpAffinityInvalidations,
				McpAffinityProperties properties) {
			Duration timeToLive = properties.getOwnershipTimeToLive();
			// Redis keeps an entry one refresh interval longer than ownership lasts: the owner slides it at most once
			// per interval, and a session idle for less than the time-to-live must not vanish from Redis first.
			RedisOwnershipStore redis = new RedisOwnershipStore(mcpAffinityRedisTemplate,
					properties.getRedis().getKeyPrefix(), timeToLive.plus(properties.getRefreshInterval()),
					properties.getRedis().getOperationTimeout());
			try {
				TwoTierOwnershipStore store = new TwoTierOwnershipStore(mcpAffinityInstanceIdentity.epoch(), redis,
						timeToLive, properties.getL1().getTimeToLive(), properties.getL1().getMaximumSize(),
						properties.getRefreshInterval(), properties.getRedis().getRetryBackoff());
				store.setInvalidationPublisher(mcpAffinityInvalidations::publish);
				store.setRecoveryWindow(properties.getRedis().getRecoveryWindow());
				return store;
			}
			catch (IllegalArgumentException ex) {
				throw new InvalidConfigurationPropertyValueException("mcp.affinity.ownership-time-to-live", timeToLive,
						ex.getMessage() + ". Lower mcp.affinity.l1.time-to-live and mcp.affinity.refresh-interval, "
								+ "or raise mcp.affinity.ownership-time-to-live.");
			}
		}

		// Declared after the store: a condition on a bean sees only the definitions registered before it.
		@Bean
		@ConditionalOnBean(TwoTierOwnershipStore.class)
		L1InvalidationListener mcpAffinityL1InvalidationListener(
				@Qualifier("mcpAffinity") RedisSessionInvalidations mcpAffinityInvalidations,
				TwoTierOwnershipStore ownershipStore) {
			return new L1InvalidationListener(mcpAffinityInvalidations, ownershipStore);
		}

		@Bean
		@ConditionalOnBean({ TwoTierOwnershipStore.class, LettuceConnectionFactory.class })
		RedisConnectionWatch mcpAffinityRedisConnectionWatch(LettuceConnectionFactory connectionFactory,
				TwoTierOwnershipStore ownershipStore) {
			RedisConnectionWatch watch = RedisConnectionWatch.start(connectionFactory, ownershipStore::reportFailure);
			ownershipStore.setOutageOngoing(watch::isOutageOngoing);
			watch.setOnOutageOver(ownershipStore::probe);
			return watch;
		}

		// Lettuce spaces its reconnect attempts up to 30 s apart by default: after a long outage one instance could
		// register again that long after another, which takes it for dead once its heartbeat time-to-live (15 s) has
		// passed, and answers 404 for its sessions. Capped, every instance is back within the back-off of Redis.
		@Bean
		ClientResourcesBuilderCustomizer mcpAffinityRedisReconnectDelay(McpAffinityProperties properties) {
			Duration maximum = properties.getRedis().getRetryBackoff();
			return (builder) -> builder.reconnectDelay(Delay.exponential(Duration.ZERO, maximum, 2, TimeUnit.MILLISECONDS));
		}

		@Bean
		@ConditionalOnMissingBean
		RedisInstanceRegistry instanceRegistry(@Qualifier("mcpAffinity") ReactiveStringRedisTemplate mcpAffinityRedisTemplate,
				ReactiveRedisConnectionFactory connectionFactory, McpAffinityProperties properties) {
			String keyPrefix = properties.getRedis().getKeyPrefix();
			if (connectionFactory instanceof LettuceConnectionFactory lettuce && lettuce.isClusterAware()
					&& (keyPrefix.indexOf('{') >= 0 || keyPrefix.indexOf('}') >= 0)) {
				throw new InvalidConfigurationPropertyValueException(KEY_PREFIX_PROPERTY, keyPrefix,
						"On a Redis Cluster, braces in the prefix become the hash tag of every key: all sessions would "
								+ "land in one slot on one node, and the registry's own {instances} tag would no longer "
								+ "keep its keys together. Use a prefix without '{' and '}', for example mcp-affinity:.");
			}
			McpAffinityProperties.Heartbeat heartbeat = properties.getHeartbeat();
			if (heartbeat.getTimeToLive().compareTo(heartbeat.getInterval()) <= 0) {
				throw new InvalidConfigurationPropertyValueException("mcp.affinity.heartbeat.time-to-live",
						heartbeat.getTimeToLive(), "It must be longer than mcp.affinity.heartbeat.interval ("
								+ heartbeat.getInterval() + "), or live instances expire between two heartbeats.");
			}
			RedisInstanceRegistry registry = new RedisInstanceRegistry(mcpAffinityRedisTemplate, keyPrefix,
					heartbeat.getTimeToLive(), heartbeat.getLivenessCacheTime(),
					properties.getRedis().getOperationTimeout());
			registry.setConfirmationDelay(heartbeat.getInterval().plusMillis(500));
			return registry;
		}

	}

	@Configuration(proxyBeanMethods = false)
	@Conditional(DistributedStoreCondition.Not.class)
	static class LocalOwnershipConfiguration {

		@Bean
		@ConditionalOnMissingBean
		InstanceIdentity mcpAffinityInstanceIdentity(McpAffinityProperties properties, Environment environment) {
			URI address = properties.getLocalServerAddress();
			if (address == null) {
				// Alone, nobody forwards here; the address only names this instance to operators.
				int port = environment.getProperty("server.port", Integer.class, 8080);
				address = URI.create("http://localhost:" + ((port > 0) ? port : 8080));
			}
			return InstanceIdentity.create(checkedAddress(address));
		}

		@Bean
		@ConditionalOnMissingBean
		OwnershipStore ownershipStore(McpAffinityProperties properties) {
			logger.info("mcp-affinity: no Redis configured (spring.data.redis.*), so this instance runs alone and keeps "
					+ "session ownership in memory. Configure Redis to run several instances.");
			return new InMemoryOwnershipStore(properties.getOwnershipTimeToLive(), InMemoryOwnershipStore.DEFAULT_MAXIMUM_SIZE);
		}

		@Bean
		@ConditionalOnMissingBean
		InstanceRegistry instanceRegistry(InstanceIdentity mcpAffinityInstanceIdentity) {
			return new SingleInstanceRegistry(mcpAffinityInstanceIdentity);
		}

	}

}
