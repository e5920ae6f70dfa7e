// Tells the sync engine when the phone goes on- and offline, so it wakes up
// the moment a network is back instead of waiting for its timer.
package jp.fieldvault

import android.content.Context
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities

class ConnectivityMonitor(context: Context, private val sync: Sync) : AutoCloseable {
    private val manager = context.getSystemService(ConnectivityManager::class.java)

    private val callback = object : ConnectivityManager.NetworkCallback() {
        override fun onCapabilitiesChanged(network: Network, capabilities: NetworkCapabilities) {
            sync.notifyConnectivity(
                capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET) &&
                    capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_VALIDATED),
            )
        }

        override fun onLost(network: Network) {
            sync.notifyConnectivity(false)
        }
    }

    init {
        val active = manager.activeNetwork?.let { manager.getNetworkCapabilities(it) }
        sync.notifyConnectivity(active?.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET) == true)
        manager.registerDefaultNetworkCallback(callback)
    }

    override fun close() {
        manager.unregisterNetworkCallback(callback)
    }
}
