package android.os

object Build {
    object VERSION {
        @JvmField var SDK_INT: Int = 0
    }
    object VERSION_CODES {
        const val P = 28
    }
}
