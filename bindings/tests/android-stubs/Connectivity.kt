package android.net

class Network

class NetworkCapabilities {
    fun hasCapability(capability: Int): Boolean = false

    companion object {
        const val NET_CAPABILITY_INTERNET = 12
        const val NET_CAPABILITY_VALIDATED = 16
    }
}

class ConnectivityManager {
    open class NetworkCallback {
        open fun onCapabilitiesChanged(network: Network, networkCapabilities: NetworkCapabilities) {}
        open fun onLost(network: Network) {}
    }

    val activeNetwork: Network? get() = null
    fun getNetworkCapabilities(network: Network?): NetworkCapabilities? = null
    fun registerDefaultNetworkCallback(callback: NetworkCallback) {}
    fun unregisterNetworkCallback(callback: NetworkCallback) {}
}
