namespace NovaStor.Initiator;
