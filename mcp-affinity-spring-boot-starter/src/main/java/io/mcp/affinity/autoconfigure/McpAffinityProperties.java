package io.mcp.affinity.autoconfigure;

import java.net.URI;
import java.time.Duration;

import io.mcp.affinity.core.InstanceHeartbeat;
import io.mcp.affinity.core.OwnershipMode;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.core.redis.RedisInstanceRegistry;
import io.mcp.affinity.core.redis.RedisOwnershipStore;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * Configuration of MCP session affinity.
 */
@ConfigurationProperties("mcp.affinity")
public class McpAffinityProperties {

	/**
	 * Whether to route MCP requests to the instance that owns their session.
	 */
	private boolean enabled = true;

	/**
	 * Address other instances reach this one at: an absolute http(s) URI with host and port, such as
	 * http://10.0.0.7:8080. Required when a distributed store is used.
	 */
	private @Nullable URI localServerAddress;

	/**
	 * Where ownership is stored: 'auto' uses Redis when spring.data.redis.* is configured and memory otherwise;
	 * 'redis' requires Redis; 'memory' runs a single instance.
	 */
	private StoreType store = StoreType.AUTO;

	/**
	 * How the sessions this instance creates are made routable by the others: 'store' records each in the ownership
	 * store (Redis); 'session-id' gives the client an id that names this instance, so no store is read or written per
	 * session. Every instance routes both kinds of id, whatever its own setting.
	 */
	private OwnershipMode ownership = OwnershipMode.STORE;

	/**
	 * Whether to apply session affinity to the MCP router registered by Spring AI's MCP server starter.
	 */
	private boolean applyToMcpRouter = true;

	/**
	 * Whether a session created by an authenticated user answers only that user: requests from another principal, or
	 * from none, get 404 (the MCP specification's advice against session hijacking).
	 */
	private boolean bindSessionsToPrincipal = true;

	/**
	 * Longest pause allowed between two parts of a request body; a client that stops sending gets 408.
	 */
	private Duration requestBodyTimeout = Duration.ofSeconds(30);

	/**
	 * How long a session's ownership lives after its last use.
	 */
	private Duration ownershipTimeToLive = RedisOwnershipStore.DEFAULT_TIME_TO_LIVE;

	/**
	 * Least time between two refreshes of one session's ownership expiry in Redis; shorter than the ownership
	 * time-to-live.
	 */
	private Duration refreshInterval = TwoTierOwnershipStore.DEFAULT_REFRESH_INTERVAL;

	private final L1 l1 = new L1();

	private final Redis redis = new Redis();

	private final Heartbeat heartbeat = new Heartbeat();

	private final Forwarding forwarding = new Forwarding();

	public boolean isEnabled() {
		return this.enabled;
	}

	public void setEnabled(boolean enabled) {
		this.enabled = enabled;
	}

	public @Nullable URI getLocalServerAddress() {
		return this.localServerAddress;
	}

	public void setLocalServerAddress(@Nullable URI localServerAddress) {
		this.localServerAddress = localServerAddress;
	}

	public StoreType getStore() {
		return this.store;
	}

	public void setStore(StoreType store) {
		this.store = store;
	}

	public OwnershipMode getOwnership() {
		return this.ownership;
	}

	public void setOwnership(OwnershipMode ownership) {
		this.ownership = ownership;
	}

	public boolean isApplyToMcpRouter() {
		return this.applyToMcpRouter;
	}

	public void setApplyToMcpRouter(boolean applyToMcpRouter) {
		this.applyToMcpRouter = applyToMcpRouter;
	}

	public Duration getRequestBodyTimeout() {
		return this.requestBodyTimeout;
	}

	public void setRequestBodyTimeout(Duration requestBodyTimeout) {
		this.requestBodyTimeout = requestBodyTimeout;
	}

	public boolean isBindSessionsToPrincipal() {
		return this.bindSessionsToPrincipal;
	}

	public void setBindSessionsToPrincipal(boolean bindSessionsToPrincipal) {
		this.bindSessionsToPrincipal = bindSessionsToPrincipal;
	}

	public Duration getOwnershipTimeToLive() {
		return this.ownershipTimeToLive;
	}

	public void setOwnershipTimeToLive(Duration ownershipTimeToLive) {
		this.ownershipTimeToLive = ownershipTimeToLive;
	}

	public Duration getRefreshInterval() {
		return this.refreshInterval;
	}

	public void setRefreshInterval(Duration refreshInterval) {
		this.refreshInterval = refreshInterval;
	}

	public L1 getL1() {
		return this.l1;
	}

	public Redis getRedis() {
		return this.redis;
	}

	public Heartbeat getHeartbeat() {
		return this.heartbeat;
	}

	public Forwarding getForwarding() {
		return this.forwarding;
	}

	/** Where ownership is stored. */
	public enum StoreType {

		/** Redis when spring.data.redis.* is configured, memory otherwise. */
		AUTO,

		/** Redis (L2) behind an in-memory L1: many instances. */
		REDIS,

		/** Memory only: a single instance. */
		MEMORY

	}

	/** In-memory tier. */
	public static class L1 {

		/**
		 * How long a session owned by another instance is cached in memory; shorter than the ownership time-to-live.
		 * Sessions owned by this instance stay as long as their ownership.
		 */
		private Duration timeToLive = TwoTierOwnershipStore.DEFAULT_L1_TIME_TO_LIVE;

		/**
		 * Most sessions owned by other instances cached in memory. Sessions owned by this instance are not counted.
		 */
		private long maximumSize = TwoTierOwnershipStore.DEFAULT_L1_MAXIMUM_SIZE;

		public Duration getTimeToLive() {
			return this.timeToLive;
		}

		public void setTimeToLive(Duration timeToLive) {
			this.timeToLive = timeToLive;
		}

		public long getMaximumSize() {
			return this.maximumSize;
		}

		public void setMaximumSize(long maximumSize) {
			this.maximumSize = maximumSize;
		}

	}

	/** Redis tier; the connection itself is Spring Boot's (spring.data.redis.*). */
	public static class Redis {

		/**
		 * Prefix of every Redis key, so several deployments can share one Redis.
		 */
		private String keyPrefix = RedisOwnershipStore.DEFAULT_KEY_PREFIX;

		/**
		 * Bound on every Redis call, retries included; a call past it fails that request alone, and is not taken for an
		 * outage on its own.
		 */
		private Duration operationTimeout = RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT;

		/**
		 * While Redis is taken to be down, how long Redis calls fail fast between two probes of it, instead of each
		 * waiting for the timeout.
		 */
		private Duration retryBackoff = TwoTierOwnershipStore.DEFAULT_L2_RETRY_BACKOFF;

		/**
		 * How long after a Redis outage (or a Redis that lost its data) a session Redis does not know gets 503 (retry)
		 * rather than 404: the time every live instance needs to reconnect and republish its sessions.
		 */
		private Duration recoveryWindow = TwoTierOwnershipStore.DEFAULT_RECOVERY_WINDOW;

		public Duration getRecoveryWindow() {
			return this.recoveryWindow;
		}

		public void setRecoveryWindow(Duration recoveryWindow) {
			this.recoveryWindow = recoveryWindow;
		}

		public String getKeyPrefix() {
			return this.keyPrefix;
		}

		public void setKeyPrefix(String keyPrefix) {
			this.keyPrefix = keyPrefix;
		}

		public Duration getOperationTimeout() {
			return this.operationTimeout;
		}

		public void setOperationTimeout(Duration operationTimeout) {
			this.operationTimeout = operationTimeout;
		}

		public Duration getRetryBackoff() {
			return this.retryBackoff;
		}

		public void setRetryBackoff(Duration retryBackoff) {
			this.retryBackoff = retryBackoff;
		}

	}

	/** Instance liveness. */
	public static class Heartbeat {

		/**
		 * Period between two heartbeats of this instance.
		 */
		private Duration interval = InstanceHeartbeat.DEFAULT_INTERVAL;

		/**
		 * How long an instance stays live after its last heartbeat; its sessions are stale after that. Longer than
		 * the interval.
		 */
		private Duration timeToLive = RedisInstanceRegistry.DEFAULT_HEARTBEAT_TIME_TO_LIVE;

		/**
		 * How long a look-up of a live instance is trusted in memory before Redis is asked again (in the background
		 * for an instance seen live within the heartbeat time-to-live).
		 */
		private Duration livenessCacheTime = RedisInstanceRegistry.DEFAULT_LIVENESS_CACHE_TIME;

		public Duration getInterval() {
			return this.interval;
		}

		public void setInterval(Duration interval) {
			this.interval = interval;
		}

		public Duration getTimeToLive() {
			return this.timeToLive;
		}

		public void setTimeToLive(Duration timeToLive) {
			this.timeToLive = timeToLive;
		}

		public Duration getLivenessCacheTime() {
			return this.livenessCacheTime;
		}

		public void setLivenessCacheTime(Duration livenessCacheTime) {
			this.livenessCacheTime = livenessCacheTime;
		}

	}

	/** Forwarding to the owning instance. */
	public static class Forwarding {

		/**
		 * How long to wait for a connection to the owning instance; past it the client gets 503 and may retry (a
		 * refused connection, by contrast, means the owner is gone: 404).
		 */
		private Duration connectTimeout = Duration.ofSeconds(2);

		/**
		 * How long to wait for the owning instance's response headers; a streamed body (SSE) is not limited by it.
		 */
		private Duration responseTimeout = Duration.ofSeconds(60);

		/**
		 * Whether a request for a session owned elsewhere is forwarded ahead of the application's own filters (which
		 * the owner runs on it, security included), where a forward costs least; false forwards it after them, from
		 * the MCP router's filter.
		 */
		private boolean beforeApplicationFilters = true;

		/**
		 * Regular expression of client addresses the X-Forwarded-* headers filter treats as trusted proxies; requests
		 * from other addresses are forwarded without X-Forwarded-* added. Defaults to the gateway's
		 * spring.cloud.gateway.server.webflux.trusted-proxies, else every address.
		 */
		private @Nullable String trustedProxies;

		/**
		 * Name of the SSL bundle (spring.ssl.bundle.*) that alone decides the TLS of forwards to https owners: its
		 * trust material, its key for a client certificate, its protocols and ciphers. Unset, the servlet stack takes
		 * the JVM's TLS defaults and WebFlux the gateway's spring.cloud.gateway.server.webflux.httpclient.ssl settings.
		 */
		private @Nullable String sslBundle;

		/**
		 * Whether start-up, when this instance registers an https address, checks that its own certificate passes
		 * the TLS forwards use (a connection to its registered port on loopback, verifying the registered host), and
		 * fails naming the fix when it does not.
		 */
		private boolean checkOwnCertificate = true;

		/**
		 * Secret shared by all instances that signs forwarded requests (HMAC-SHA256), so an instance rejects with 403 a
		 * request that only claims to be forwarded. At least 16 characters. Strongly recommended with Redis.
		 */
		private @Nullable String secret;

		/**
		 * Secret still accepted on received forwards while a new one is rolled out.
		 */
		private @Nullable String previousSecret;

		/**
		 * How old a forward's signature may be, clock skew between instances included.
		 */
		private Duration signatureMaxAge = Duration.ofSeconds(30);

		/**
		 * Whether to refuse to start with Redis but without a forwarding secret (otherwise a warning is logged).
		 */
		private boolean requireSecret;

		public @Nullable String getSecret() {
			return this.secret;
		}

		public void setSecret(@Nullable String secret) {
			this.secret = secret;
		}

		public @Nullable String getPreviousSecret() {
			return this.previousSecret;
		}

		public void setPreviousSecret(@Nullable String previousSecret) {
			this.previousSecret = previousSecret;
		}

		public Duration getSignatureMaxAge() {
			return this.signatureMaxAge;
		}

		public void setSignatureMaxAge(Duration signatureMaxAge) {
			this.signatureMaxAge = signatureMaxAge;
		}

		public boolean isBeforeApplicationFilters() {
			return this.beforeApplicationFilters;
		}

		public void setBeforeApplicationFilters(boolean beforeApplicationFilters) {
			this.beforeApplicationFilters = beforeApplicationFilters;
		}

		public boolean isRequireSecret() {
			return this.requireSecret;
		}

		public void setRequireSecret(boolean requireSecret) {
			this.requireSecret = requireSecret;
		}

		public Duration getConnectTimeout() {
			return this.connectTimeout;
		}

		public void setConnectTimeout(Duration connectTimeout) {
			this.connectTimeout = connectTimeout;
		}

		public Duration getResponseTimeout() {
			return this.responseTimeout;
		}

		public void setResponseTimeout(Duration responseTimeout) {
			this.responseTimeout = responseTimeout;
		}

		public @Nullable String getSslBundle() {
			return this.sslBundle;
		}

		public void setSslBundle(@Nullable String sslBundle) {
			this.sslBundle = sslBundle;
		}

		public boolean isCheckOwnCertificate() {
			return this.checkOwnCertificate;
		}

		public void setCheckOwnCertificate(boolean checkOwnCertificate) {
			this.checkOwnCertificate = checkOwnCertificate;
		}

		public @Nullable String getTrustedProxies() {
			return this.trustedProxies;
		}

		public void setTrustedProxies(@Nullable String trustedProxies) {
			this.trustedProxies = trustedProxies;
		}

	}

}
