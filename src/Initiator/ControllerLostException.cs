namespace NovaStor.Initiator;

/// <summary>
/// The controller could not be reached again within the controller-loss timeout: the command
/// was not completed and will not be. The inner exception is the last connection failure.
/// </summary>
public sealed class ControllerLostException : Exception
{
    public ControllerLostException()
    {
    }

    public ControllerLostException(string message) : base(message)
    {
    }

    public ControllerLostException(string message, Exception? inner) : base(message, inner)
    {
    }
}
